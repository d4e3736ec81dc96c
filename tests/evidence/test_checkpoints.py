"""Signed checkpoints (C2SP tlog-checkpoint, Ed25519 signed notes): written by
seal_deletion_log, checked by verify_deletion_log --checkpoint."""

from __future__ import annotations

import base64
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django.fixtures import Settings as SettingsWrapper

from evidence.canonical import GENESIS
from evidence.checkpoints import (
    DASH,
    CheckpointError,
    note_open,
    note_sign,
    signer_new,
    signer_parse,
    verifier_parse,
)
from evidence.models import Seal
from files.models import FileDeletion
from organizations.models import Organization
from tests.evidence.test_verify import rewrite_history
from tests.fixtures.evidence import log_rewritten, settled, verify

pytestmark = pytest.mark.django_db

# The example of Go's golang.org/x/mod/sumdb/note, which C2SP signed-note follows.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    f"{GO_TEXT}\n{DASH} PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture
def key(settings: SettingsWrapper) -> str:
    signer = signer_new("panel-2026")
    settings.EVIDENCE_SIGNING_KEY = signer.text()
    settings.EVIDENCE_VERIFIER_KEYS = []
    return signer.text()


def checkpoint(path: Path) -> Path:
    out, err = StringIO(), StringIO()
    call_command("seal_deletion_log", "--output", str(path), stdout=out, stderr=err)
    return path


def test_notes_are_signed_and_opened_as_gos_note_package_does() -> None:
    signer = signer_parse(GO_SIGNER)
    assert signer.verifier.text() == GO_VERIFIER
    assert signer.text() == GO_SIGNER
    assert note_sign(GO_TEXT, signer) == GO_NOTE
    assert note_open(GO_NOTE, verifiers=[verifier_parse(GO_VERIFIER)]) == GO_TEXT


def test_a_checkpoint_is_origin_size_and_head_then_a_signature(
    key: str, organization: Organization
) -> None:
    for n in range(3):
        settled(organization, asset_id=f"a{n}")
    out = StringIO()
    call_command("seal_deletion_log", stdout=out)
    head = base64.b64encode(bytes.fromhex(Seal.objects.get(seq=3).seal)).decode()
    lines = out.getvalue().split("\n")
    assert lines[:4] == ["tallyfy-admin/deletion-log", "3", head, ""]
    dash, name, blob = lines[4].split(" ")
    assert (dash, name) == (DASH, "panel-2026")
    assert base64.b64decode(blob)[:4] == signer_parse(key).key_id
    assert len(base64.b64decode(blob)) == 4 + 64
    assert lines[5:] == [""]


def test_an_empty_log_gets_a_checkpoint_too(key: str, tmp_path: Path) -> None:
    note = checkpoint(tmp_path / "empty").read_text()
    assert note.startswith(f"tallyfy-admin/deletion-log\n0\n{base64.b64encode(GENESIS).decode()}\n")
    assert verify("--checkpoint", str(tmp_path / "empty"))[0] == 0


def test_the_log_extends_its_checkpoints(
    key: str, organization: Organization, tmp_path: Path
) -> None:
    settled(organization, asset_id="a0")
    first = checkpoint(tmp_path / "first")
    settled(organization, asset_id="a1")
    second = checkpoint(tmp_path / "second")
    settled(organization, asset_id="a2")
    status, out = verify("--checkpoint", str(first), str(second))
    assert status == 0
    assert f"{first}: the log extends this checkpoint (1 rows)" in out
    assert f"{second}: the log extends this checkpoint (2 rows)" in out
    assert "3 rows, chain intact" in out


def test_a_chain_recomputed_after_an_edit_is_caught_by_a_checkpoint(
    key: str, organization: Organization, tmp_path: Path
) -> None:
    rows = [settled(organization, asset_id=f"a{n}") for n in range(4)]
    before = checkpoint(tmp_path / "before")
    rewrite_history(rows[1], reason="nothing to see")
    status, out = verify("--checkpoint", str(before))
    assert status == 1
    assert f"{before}: the seal at 4 rows is not the checkpoint's: the log was rewritten" in out


def test_a_log_cut_short_is_caught_by_a_checkpoint(
    key: str, organization: Organization, tmp_path: Path
) -> None:
    rows = [settled(organization, asset_id=f"a{n}") for n in range(3)]
    before = checkpoint(tmp_path / "before")
    with log_rewritten():
        FileDeletion.objects.filter(pk=rows[2].pk).delete()
        Seal.objects.filter(seq=3).delete()
        from evidence.models import ChainHead

        ChainHead.objects.update(seq=2, seal=Seal.objects.get(seq=2).seal)
    status, out = verify("--checkpoint", str(before))
    assert status == 1
    assert "the checkpoint has 3 rows and the log only 2: the log was cut short" in out


def test_a_forged_signature_is_rejected(
    key: str, organization: Organization, tmp_path: Path
) -> None:
    settled(organization)
    path = checkpoint(tmp_path / "cp")
    text, signature = path.read_text().split(f"{DASH} ")
    name, blob = signature.split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    path.write_text(f"{text}{DASH} {name} {base64.b64encode(bytes(raw)).decode()}\n")
    status, out = verify("--checkpoint", str(path))
    assert status == 1
    assert "the signature by panel-2026 does not verify" in out


def test_a_checkpoint_with_its_size_changed_is_rejected(
    key: str, organization: Organization, tmp_path: Path
) -> None:
    settled(organization)
    path = checkpoint(tmp_path / "cp")
    path.write_text(path.read_text().replace("\n1\n", "\n0\n", 1))
    status, out = verify("--checkpoint", str(path))
    assert status == 1
    assert "does not verify" in out


def test_a_checkpoint_signed_by_an_unknown_key_is_rejected(
    key: str, settings: SettingsWrapper, tmp_path: Path
) -> None:
    path = checkpoint(tmp_path / "cp")
    settings.EVIDENCE_SIGNING_KEY = signer_new("someone-else").text()
    status, out = verify("--checkpoint", str(path))
    assert status == 1
    assert "no signature by a known key" in out


def test_a_checkpoint_of_another_log_is_rejected(
    key: str, settings: SettingsWrapper, tmp_path: Path
) -> None:
    path = checkpoint(tmp_path / "cp")
    settings.EVIDENCE_LOG_ORIGIN = "another-panel/deletion-log"
    status, out = verify("--checkpoint", str(path))
    assert status == 1
    assert "a checkpoint of another log" in out


def test_old_checkpoints_verify_after_the_key_rotates(
    key: str, settings: SettingsWrapper, organization: Organization, tmp_path: Path
) -> None:
    settled(organization)
    old = checkpoint(tmp_path / "old")
    settings.EVIDENCE_SIGNING_KEY = signer_new("panel-2027").text()
    settings.EVIDENCE_VERIFIER_KEYS = [signer_parse(key).verifier.text()]
    new = checkpoint(tmp_path / "new")
    assert "panel-2027" in new.read_text()
    assert verify("--checkpoint", str(old), str(new))[0] == 0
    settings.EVIDENCE_VERIFIER_KEYS = []
    assert "no signature by a known key" in verify("--checkpoint", str(old))[1]


def test_no_checkpoint_is_written_without_a_key(settings: SettingsWrapper) -> None:
    settings.EVIDENCE_SIGNING_KEY = ""
    with pytest.raises(CommandError, match="EVIDENCE_SIGNING_KEY is not set") as raised:
        call_command("seal_deletion_log", stdout=StringIO())
    assert raised.value.returncode == 2


def test_keygen_prints_a_key_pair_that_works(settings: SettingsWrapper) -> None:
    out = StringIO()
    call_command("evidence_keygen", "--name", "panel-2028", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    signer = signer_parse(lines["EVIDENCE_SIGNING_KEY"])
    verifier = verifier_parse(lines["EVIDENCE_VERIFIER_KEYS"])
    assert note_open(note_sign("x\n", signer), verifiers=[verifier]) == "x\n"
    with pytest.raises(CheckpointError):
        note_open(note_sign("x\n", signer_new("panel-2028")), verifiers=[verifier])
