"""The evidence app's settings (see app_settings for how each is read)."""

from __future__ import annotations

from app_settings import Setting, env


class EvidenceSettings:
    # The first line of every checkpoint: names this log, so that a checkpoint of another
    # deployment's log is never taken for one of this one. A schema-less URL is customary.
    EVIDENCE_LOG_ORIGIN = Setting(env.str, "tallyfy-admin/deletion-log")
    # The key that signs checkpoints, as `manage.py evidence_keygen` prints it
    # (PRIVATE+KEY+<name>+<key id>+<key>). Empty: seal_deletion_log refuses to sign.
    EVIDENCE_SIGNING_KEY = Setting(env.str, "")
    # Public keys that verify checkpoints (<name>+<key id>+<key>), comma-separated: the
    # signing key's own is always one, and keeping the old ones here lets keys rotate.
    EVIDENCE_VERIFIER_KEYS = Setting(env.list, [])
    # Record who views and downloads files (evidence.Event). Off only to measure its cost.
    EVIDENCE_ACCESS_LOG = Setting(env.bool, True)


conf = EvidenceSettings()
