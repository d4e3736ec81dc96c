"""Exports of the deletion log (export_deletion_log, the log's Export links) hold each row's
canonical encoding and seals, and scripts/verify_export.py, which knows nothing of the
panel, verifies an export and rejects an edited one."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from evidence.checkpoints import signer_new
from evidence.models import Seal
from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from tests.fixtures.accounts import make_staff, signed_in
from tests.fixtures.evidence import settled
from tests.fixtures.organizations import make_organization

pytestmark = pytest.mark.django_db

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_export.py"


@pytest.fixture
def rows(organization: Organization) -> list[FileDeletion]:
    found = [settled(organization, asset_id=f"a{n}") for n in range(4)]
    found.append(settled(organization, asset_id="a-failed", state=DeletionState.FAILED))
    return found


def export(path: Path, fmt: str, *args: str) -> Path:
    call_command(
        "export_deletion_log", "--format", fmt, "--output", str(path), *args, stderr=StringIO()
    )
    return path


def audit(path: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_holds_every_row_as_it_is_sealed(
    rows: list[FileDeletion], tmp_path: Path, fmt: str
) -> None:
    path = export(tmp_path / f"log.{fmt}", fmt)
    if fmt == "csv":
        exported = read_csv(path)
    else:
        exported = [json.loads(line) for line in path.read_text().splitlines()]
    seals = list(Seal.objects.order_by("seq"))
    assert [int(row["seq"]) for row in exported] == [s.seq for s in seals]
    assert [(row["prev_seal"], row["seal"]) for row in exported] == [
        (s.prev_seal, s.seal) for s in seals
    ]
    by_id = {row.pk: row for row in rows}
    for row in exported:
        facts = json.loads(row["canonical"])
        deletion = by_id[int(row["id"])]
        assert facts["asset_id"] == deletion.asset_id
        assert facts["reason"] == deletion.reason
        assert facts["state"] == deletion.state
        assert facts["metadata"] == deletion.metadata
    if fmt == "csv":
        assert [r["asset_id"] for r in exported] == [d.asset_id for d in rows]
    assert audit(path, "--complete") == (
        0,
        f"5 rows, chain intact from seal #1; head seal {seals[-1].seal} "
        f"(base64 {__import__('base64').b64encode(bytes.fromhex(seals[-1].seal)).decode()})\n",
    )


def test_the_script_rejects_a_field_edited(rows: list[FileDeletion], tmp_path: Path) -> None:
    path = export(tmp_path / "log.csv", "csv")
    exported = read_csv(path)
    exported[2]["reason"] = "nothing to see"
    write_csv(path, exported)
    status, out = audit(path)
    assert status == 1
    assert f"seal #3 (file_deletion {rows[2].pk}): its reason is not what its seal covers" in out

    exported[2]["canonical"] = exported[2]["canonical"].replace("GDPR-1", "nothing to see")
    write_csv(path, exported)
    status, out = audit(path)
    assert status == 1
    assert "its canonical encoding does not hash to its row hash" in out


def test_the_script_rejects_a_row_removed(rows: list[FileDeletion], tmp_path: Path) -> None:
    path = export(tmp_path / "log.jsonl", "jsonl")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2] + lines[3:]))
    status, out = audit(path, "--complete")
    assert status == 1
    assert "seals #3 to #3 are missing: rows were removed" in out
    # Its last row removed, an export is caught by a checkpoint it should hold.
    path.write_text("".join(lines[:-1]))
    assert audit(path)[0] == 0


def test_the_script_rejects_rows_swapped(rows: list[FileDeletion], tmp_path: Path) -> None:
    path = export(tmp_path / "log.csv", "csv")
    exported = read_csv(path)
    exported[1], exported[2] = exported[2], exported[1]
    write_csv(path, exported)
    status, out = audit(path)
    assert status == 1
    assert "seal #2 comes after seal #3: rows were reordered" in out
    # Renumbered to hide the swap, the chain no longer links.
    exported[1]["seq"], exported[2]["seq"] = "2", "3"
    write_csv(path, exported)
    status, out = audit(path)
    assert status == 1
    assert "seal #2 does not follow seal #1" in out


def test_the_script_checks_a_checkpoint(
    rows: list[FileDeletion], tmp_path: Path, settings: SettingsWrapper
) -> None:
    settings.EVIDENCE_SIGNING_KEY = signer_new("panel-2026").text()
    point = tmp_path / "checkpoint"
    call_command("seal_deletion_log", "--output", str(point), stderr=StringIO())
    path = export(tmp_path / "log.csv", "csv")
    assert audit(path, "--checkpoint", str(point))[0] == 0
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # the last row cut off
    status, out = audit(path, "--checkpoint", str(point))
    assert status == 1
    assert "a checkpoint has 5 rows, the export only 4" in out


def test_a_filtered_export_holds_only_its_rows(rows: list[FileDeletion], tmp_path: Path) -> None:
    path = export(tmp_path / "failed.csv", "csv", "--state", "failed")
    exported = read_csv(path)
    assert [r["asset_id"] for r in exported] == ["a-failed"]
    status, out = audit(path)
    assert status == 0
    assert "1 rows verified, each sealing its own facts; a selection with 1 gap(s)" in out
    assert audit(path, "--complete")[0] == 1


def test_an_export_searches_as_the_log_does(
    rows: list[FileDeletion], organization: Organization, tmp_path: Path
) -> None:
    """--search is the changelist's search: the same rows for the same words."""
    viewer = make_staff("auditor", "view_filedeletion")
    changelist = reverse("admin:files_filedeletion_changelist")
    for term in ["a-failed.pdf", "A-FAILED", "GDPR-1 a2", '"a3.pdf"', "alice a1", "nowhere"]:
        page = signed_in(viewer).get(changelist, {"q": term})
        listed = {row.asset_id for row in page.context["cl"].result_list}
        path = export(tmp_path / "searched.csv", "csv", "--search", term)
        assert {r["asset_id"] for r in read_csv(path)} == listed, term
    assert [
        r["asset_id"] for r in read_csv(export(tmp_path / "one.csv", "csv", "--search", "a2"))
    ] == ["a2"]
    path = export(tmp_path / "both.csv", "csv", "--search", "GDPR-1", "--state", "failed")
    assert [r["asset_id"] for r in read_csv(path)] == ["a-failed"]
    assert audit(path)[0] == 0


def test_an_empty_search_is_refused(rows: list[FileDeletion], tmp_path: Path) -> None:
    path = tmp_path / "never.csv"
    with pytest.raises(CommandError, match="--search needs something to look for"):
        export(path, "csv", "--search", "  ")
    assert not path.exists()


def test_the_admin_exports_the_filtered_list(
    rows: list[FileDeletion], organization: Organization, tmp_path: Path
) -> None:
    other = make_organization(name="Other", org_id="f" * 32)
    settled(other, asset_id="elsewhere")
    viewer = make_staff("auditor", "view_filedeletion")
    url = reverse("admin:files_filedeletion_export", args=["csv"])
    response = signed_in(viewer).get(url, {"organization__id__exact": other.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "deletion-log-selection-" in response["Content-Disposition"]
    path = tmp_path / "admin.csv"
    path.write_bytes(b"".join(response.streaming_content))
    assert [r["asset_id"] for r in read_csv(path)] == ["elsewhere"]
    assert audit(path)[0] == 0

    whole = signed_in(viewer).get(reverse("admin:files_filedeletion_export", args=["jsonl"]))
    path.write_bytes(b"".join(whole.streaming_content))
    assert "deletion-log-complete-" in whole["Content-Disposition"]
    assert len(path.read_text().splitlines()) == 6
    assert audit(path, "--complete")[0] == 0

    listing = signed_in(viewer).get(
        reverse("admin:files_filedeletion_changelist"), {"state__exact": "failed"}
    )
    assert f'href="{url}?state__exact=failed"' in listing.content.decode()


def test_only_those_who_may_view_the_log_export_it(rows: list[FileDeletion]) -> None:
    url = reverse("admin:files_filedeletion_export", args=["csv"])
    assert signed_in(make_staff("nobody")).get(url).status_code == 403
    assert Client().get(url).status_code == 302
    viewer: User = make_staff("auditor", "view_filedeletion")
    assert signed_in(viewer).get(url.replace("csv", "xml")).status_code == 404
