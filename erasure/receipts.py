"""An ended request's receipt: facts only, the subject masked, and a JSON file signed with the
deletion log's checkpoint key (evidence.keys) when one is configured.

The file is {"receipt": {...}, "sha256": <base64>, "signature": <signed note or null>}.
"sha256" is SHA-256 of the receipt in the deletion log's canonical JSON (keys sorted, no
whitespace, ASCII with \\uXXXX escapes; evidence.canonical), and the signed note (C2SP
signed-note, as the checkpoints) has the text
    tallyfy-admin/erasure-receipt\\n<request id>\\n<that base64>\\n
`scripts/verify_receipt.py` checks both with the public key alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from django.utils import timezone

from erasure.machine import ENDED_STATES
from erasure.models import Decision, ErasureRequest, Finding
from erasure.outcomes import FileOutcome, file_outcomes
from erasure.selectors import latest_discovery
from evidence.canonical import timestamp
from evidence.checkpoints import note_sign
from evidence.keys import signer

ORIGIN = "tallyfy-admin/erasure-receipt"
FORMAT = "tallyfy-admin erasure receipt, version 1"
BACKUPS_NOTICE = (
    "Tallyfy keeps database backups for 35 days (90 days after an organization is deleted): "
    "a deleted file may remain in those backups until they expire."
)


def _when(moment: Any) -> str | None:
    return timestamp(moment) if moment is not None else None


def _user(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def receipt_facts(request: ErasureRequest) -> dict[str, Any]:
    """What the receipt states, for the page and the signed file alike."""
    discovery = latest_discovery(request_id=request.pk)
    findings: list[Finding] = list(discovery.findings.all()) if discovery else []
    left_out: dict[str, dict[str, Any]] = {}
    for finding in findings:
        if finding.decision != Decision.LEAVE_OUT:
            continue
        key = finding.asset_id or f"link {finding.pk}"
        entry = left_out.setdefault(
            key,
            {
                "id": finding.asset_id,
                "name": finding.file_name,
                "process_run": finding.run_name,
                "task": finding.task_name,
                "found_by": [],
                "reason": finding.get_leave_out_reason_display(),
                "candidate": finding.is_candidate,
            },
        )
        entry["found_by"].append(finding.get_rule_display())
    return {
        "format": FORMAT,
        "request": {
            "id": request.pk,
            "reference": request.reference,
            "organization": request.organization.name,
            "tallyfy_organization_id": request.organization.org_id,
            "subject": request.subject_masked,
            "legal_basis": request.get_legal_basis_display(),
            "received_at": _when(request.received_at),
            "due_at": _when(request.due_at),
            "extended_by_months": request.extension_months,
            "identity_verified_by": _user(request.verified_by),
            "identity_verified_at": _when(request.verified_at),
            "sent_for_approval_by": _user(request.sent_by),
            "approved_by": _user(request.approved_by),
            "approved_at": _when(request.approved_at),
            "state": request.get_state_display(),
            "ended_at": _when(request.ended_at),
            "closing_note": request.state_reason,
        },
        "searched": {
            "at": _when(discovery.at) if discovery else None,
            "index_last_completed_at": _when(discovery.index_completed_at) if discovery else None,
            "index_note": discovery.index_note if discovery else "",
            "rules": [
                {
                    "rule": search.get_rule_display(),
                    "looked_for": search.searched_for,
                    "searched": search.get_outcome_display(),
                    "note": search.note,
                    "found": search.found,
                }
                for search in (discovery.searches.all() if discovery else [])
            ],
        },
        "files": [_file(outcome) for outcome in file_outcomes(request)],
        "left_out": list(left_out.values()),
        "notice": BACKUPS_NOTICE,
    }


def _file(outcome: FileOutcome) -> dict[str, Any]:
    return {
        "id": outcome.asset_id,
        "name": outcome.file_name,
        "process_run": outcome.run_name,
        "task": outcome.task_name,
        "found_by": outcome.rules,
        "outcome": outcome.outcome.label,
        "note": outcome.note,
        "at": _when(outcome.at),
        "tallyfy_request_id": outcome.tallyfy_request_id,
        "deletion_log_row": outcome.log_row_id,
        "deletion_job": outcome.job_id,
    }


def canonical(receipt: dict[str, Any]) -> bytes:
    return json.dumps(
        receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def receipt_file(request: ErasureRequest) -> dict[str, Any]:
    """The signed receipt of an ended request (a ValueError while it is open)."""
    if request.state not in ENDED_STATES:
        raise ValueError("A receipt is issued once the request has ended.")
    receipt = {**receipt_facts(request), "issued_at": timestamp(timezone.now())}
    digest = base64.b64encode(hashlib.sha256(canonical(receipt)).digest()).decode()
    key = signer()
    signature = note_sign(f"{ORIGIN}\n{request.pk}\n{digest}\n", key) if key else None
    return {"receipt": receipt, "sha256": digest, "signature": signature}
