"""Finding a subject's files in the organization's index, each with the rule that found it,
and every rule's count recorded, "none found" included (never silently incomplete)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from catalog.folding import fold
from catalog.models import UNFINISHED_SCAN_STATES, IndexedFile, Scan, ScanState
from catalog.selectors import gone_q, indexed_files, unknown_uploader_candidates
from erasure import machine
from erasure.models import (
    Decision,
    Discovery,
    ErasureRequest,
    Finding,
    LeaveOutReason,
    RequestState,
    Rule,
    RuleSearch,
)
from erasure.subjects import Subject, SubjectUnreadable, decrypt_subject, mask_email

MIN_NAME_LENGTH = 3  # a shorter name would match most file names


def _rules(
    organization_files: QuerySet[IndexedFile], subject: Subject, request: ErasureRequest
) -> Iterator[tuple[Rule, str, QuerySet[IndexedFile], bool]]:
    there = organization_files.exclude(gone_q())
    for email in subject.emails:
        masked = mask_email(email)
        theirs = there.filter(uploader_email__iexact=email)
        yield Rule.UPLOADED_BY_SUBJECT, masked, theirs.filter(uploader_inferred=False), False
        yield (
            Rule.UPLOADED_BY_SUBJECT_INFERRED,
            masked,
            theirs.filter(uploader_inferred=True),
            False,
        )
        yield (
            Rule.NAME_HOLDS_EMAIL,
            masked,
            there.filter(file_name_folded__contains=fold(email)),
            False,
        )
        candidates = unknown_uploader_candidates(email=email, organization=request.organization)
        yield Rule.UNKNOWN_UPLOADER_NEARBY, masked, candidates, True
    if len(subject.name) >= MIN_NAME_LENGTH:
        named = there.filter(file_name_folded__contains=fold(subject.name))
        yield Rule.NAME_HOLDS_NAME, f"{subject.name[:1]}*** (name)", named, False


def _index_state(request: ErasureRequest) -> tuple[object, str]:
    scans = Scan.objects.filter(organization=request.organization, run_id="")
    last_done = scans.filter(state=ScanState.DONE).order_by("-finished_at").first()
    notes: list[str] = []
    if last_done is None:
        notes.append(
            "The organization's index was never completed: files not yet indexed were not "
            "searched. Scan the organization, then discover again."
        )
    if scans.filter(state__in=UNFINISHED_SCAN_STATES).exists():
        notes.append("A scan was under way: files it had not reached yet were not searched.")
    return (last_done.finished_at if last_done else None), " ".join(notes)


def _findings(
    discovery: Discovery, rule: Rule, files: Iterable[IndexedFile], candidate: bool
) -> list[Finding]:
    return [
        Finding(
            discovery=discovery,
            indexed_file=file,
            asset_id=file.asset_id,
            file_name=file.file_name,
            run_name=file.run_name,
            task_name=file.task_name,
            rule=rule,
            is_candidate=candidate,
            is_link=file.is_link,
            # A link has nothing behind it to delete: it is left out from the start.
            decision=Decision.LEAVE_OUT if file.is_link else Decision.UNDECIDED,
            leave_out_reason=LeaveOutReason.LINK if file.is_link else "",
        )
        for file in files
    ]


def erasure_request_discover(*, request: ErasureRequest, by: AbstractBaseUser) -> Discovery:
    """Search the index (received → discovering → review, or again from review); one
    transaction, so a failure leaves the request where it was with nothing half-written."""
    expected = RequestState(request.state)
    if expected not in (RequestState.RECEIVED, RequestState.REVIEW):
        raise ValidationError(f"A request {expected.label} cannot be searched again.")
    try:
        subject = decrypt_subject(request.subject_ciphertext, owner=f"erasure request {request.pk}")
    except SubjectUnreadable as exc:
        raise ValidationError(str(exc)) from exc
    with transaction.atomic():
        if not machine.move(request=request, expected=expected, to=RequestState.DISCOVERING, by=by):
            raise ValidationError("The request changed meanwhile: reload it and try again.")
        completed_at, note = _index_state(request)
        discovery = Discovery.objects.create(
            request=request, by=by, index_completed_at=completed_at, index_note=note
        )
        organization_files = indexed_files(organization=request.organization)
        seen: set[tuple[int, str]] = set()
        for rule, searched_for, files, candidate in _rules(organization_files, subject, request):
            found = [f for f in files if (f.pk, rule) not in seen]
            seen.update((f.pk, rule) for f in found)
            Finding.objects.bulk_create(_findings(discovery, rule, found, candidate))
            RuleSearch.objects.create(
                discovery=discovery, rule=rule, searched_for=searched_for, found=len(found)
            )
        moved = machine.move(
            request=request,
            expected=RequestState.DISCOVERING,
            to=RequestState.REVIEW,
            by=by,
            note=f"Discovery {discovery.pk}: {discovery.findings.count()} finding(s).",
        )
        if not moved:  # cannot happen while this transaction's UPDATE holds the row
            raise ValidationError("The request changed meanwhile: reload it and try again.")
    return discovery
