"""The checkpoint keys this deployment is configured with (evidence.conf)."""

from __future__ import annotations

from evidence.checkpoints import SignerKey, VerifierKey, signer_parse, verifier_parse
from evidence.conf import conf


def signer() -> SignerKey | None:
    text = conf.EVIDENCE_SIGNING_KEY
    return signer_parse(text) if text else None


def verifiers() -> list[VerifierKey]:
    """Every configured public key, old ones included, and the signing key's own."""
    keys = [verifier_parse(text) for text in conf.EVIDENCE_VERIFIER_KEYS if text.strip()]
    own = signer()
    if own is not None:
        keys.append(own.verifier)
    return keys
