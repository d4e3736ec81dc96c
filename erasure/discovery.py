"""Finding a subject's files in the organization's index, each with the rule that found it,
and every rule's count recorded, "none found" included (never silently incomplete).

The index is refreshed first when its last whole scan is older than
ERASURE_INDEX_MAX_AGE_SECONDS: the request waits in "discovering" until the scan ends, and the
sweep (`discoveries_resume`) then runs the rules. Tallyfy is asked only for the guest's tasks,
outside any transaction; a rule whose calls failed says so instead of "none found".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import quote, quote_plus

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

import tallyfy_api
from catalog.folding import fold
from catalog.models import UNFINISHED_SCAN_STATES, AttachedTo, IndexedFile, Scan, ScanState
from catalog.scans import full_scan_due, scan_start
from catalog.selectors import gone_q, indexed_files, unknown_uploader_candidates
from catalog.tasks import scan_organization
from erasure import machine
from erasure.conf import conf
from erasure.models import (
    Decision,
    Discovery,
    ErasureRequest,
    Finding,
    LeaveOutReason,
    RequestState,
    Rule,
    RuleSearch,
    SearchOutcome,
)
from erasure.subjects import Subject, SubjectUnreadable, decrypt_subject, mask_email
from organizations.clients import tallyfy_client
from organizations.models import Organization
from organizations.tokens import TokenDecryptionError
from tallyfy_api.guests import guest_tasks

logger = logging.getLogger(__name__)

MIN_NAME_LENGTH = 3  # a shorter name would match most file names
KICKOFF_NOT_SEARCHABLE = (
    "Not searchable: Tallyfy's API does not say who submitted a run's kick-off form (the run "
    "holds the form's values only). A form the subject uploaded a file to is searched by the "
    "rule before; one they submitted without a file cannot be found."
)


@dataclass(frozen=True)
class _Search:
    rule: Rule
    searched_for: str
    files: Iterable[IndexedFile]
    candidate: bool = False
    outcome: SearchOutcome = SearchOutcome.SEARCHED
    note: str = ""


@dataclass(frozen=True)
class _GuestTasks:
    """What Tallyfy said of one email's guest tasks: their ids, or why it could not say."""

    email: str
    task_ids: frozenset[str] | None
    failure: str = ""


def _guest_tasks(organization: Organization, subject: Subject) -> list[_GuestTasks]:
    """Ask Tallyfy for the tasks assigned to each of the subject's emails as a guest (and the
    tasks of the runs where the index has them uploading). Calls Tallyfy: no transaction."""
    answers = []
    for email in subject.emails:
        runs = (
            IndexedFile.objects.filter(organization=organization, uploader_email__iexact=email)
            .exclude(run_id="")
            .values_list("run_id", flat=True)
            .distinct()
            .order_by("run_id")[: conf.ERASURE_GUEST_TASK_MAX_RUNS]
        )
        try:
            found = guest_tasks(
                tallyfy_client(organization=organization),
                email,
                runs=list(runs),
                max_pages=conf.ERASURE_GUEST_TASK_MAX_PAGES,
                max_runs=conf.ERASURE_GUEST_TASK_MAX_RUNS,
            )
        except (tallyfy_api.TallyfyError, TokenDecryptionError, ValueError) as exc:
            failure = _masked(str(exc), email)
            logger.warning("guest tasks of an erasure subject not read: %s", failure)
            answers.append(_GuestTasks(email, None, failure))
        else:
            answers.append(_GuestTasks(email, frozenset(found.task_ids)))
    return answers


def _masked(message: str, email: str) -> str:
    """`message` with the email (as a URL may quote it) masked: the note is shown and logged."""
    for form in {email, quote(email, safe=""), quote_plus(email)}:
        message = message.replace(form, mask_email(email))
    return message[:400]


def _rules(
    organization_files: QuerySet[IndexedFile],
    subject: Subject,
    request: ErasureRequest,
    guest_answers: list[_GuestTasks],
) -> Iterator[_Search]:
    there = organization_files.exclude(gone_q())
    # A run's own files (no task): its kick-off form's.
    kickoff = there.filter(attached_to=AttachedTo.RUN, task_id="").exclude(run_id="")
    guest = {answer.email: answer for answer in guest_answers}
    for email in subject.emails:
        masked = mask_email(email)
        theirs = there.filter(uploader_email__iexact=email)
        yield _Search(Rule.UPLOADED_BY_SUBJECT, masked, theirs.filter(uploader_inferred=False))
        yield _Search(
            Rule.UPLOADED_BY_SUBJECT_INFERRED, masked, theirs.filter(uploader_inferred=True)
        )
        answer = guest[email]
        if answer.task_ids is None:
            note = f"Could not be completed: {answer.failure} Discover again to retry."
            yield _Search(
                Rule.ON_GUEST_TASK, masked, [], outcome=SearchOutcome.INCOMPLETE, note=note
            )
        else:
            on_tasks = there.filter(task_id__in=sorted(answer.task_ids)) if answer.task_ids else []
            yield _Search(Rule.ON_GUEST_TASK, masked, on_tasks)
        # Who uploads to a kick-off form submits it. Its files with no known uploader are
        # already candidates (UNKNOWN_UPLOADER_NEARBY); those someone else uploaded are these.
        forms = kickoff.filter(uploader_email__iexact=email).values("run_id")
        others = kickoff.filter(run_id__in=forms).exclude(uploader_email="")
        yield _Search(
            Rule.KICKOFF_WITH_SUBJECT_UPLOAD, masked, others.exclude(uploader_email__iexact=email)
        )
        yield _Search(
            Rule.KICKOFF_SUBMITTED,
            masked,
            [],
            outcome=SearchOutcome.NOT_SEARCHABLE,
            note=KICKOFF_NOT_SEARCHABLE,
        )
        yield _Search(
            Rule.NAME_HOLDS_EMAIL, masked, there.filter(file_name_folded__contains=fold(email))
        )
        candidates = unknown_uploader_candidates(email=email, organization=request.organization)
        yield _Search(Rule.UNKNOWN_UPLOADER_NEARBY, masked, candidates, candidate=True)
    if len(subject.name) >= MIN_NAME_LENGTH:
        named = there.filter(file_name_folded__contains=fold(subject.name))
        yield _Search(Rule.NAME_HOLDS_NAME, f"{subject.name[:1]}*** (name)", named)


def _last_whole_scan_done(organization: Organization) -> datetime | None:
    return (
        Scan.objects.filter(organization=organization, run_id="", state=ScanState.DONE)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )


def _index_state(request: ErasureRequest, refresh_failure: str = "") -> tuple[object, str]:
    scans = Scan.objects.filter(organization=request.organization, run_id="")
    last_done = _last_whole_scan_done(request.organization)
    notes: list[str] = []
    if refresh_failure:
        notes.append(refresh_failure)
    if last_done is None:
        notes.append(
            "The organization's index was never completed: files not yet indexed were not "
            "searched. Scan the organization, then discover again."
        )
    if scans.filter(state__in=UNFINISHED_SCAN_STATES).exists():
        notes.append("A scan was under way: files it had not reached yet were not searched.")
    return last_done, " ".join(notes)


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


def _subject(request: ErasureRequest) -> Subject:
    try:
        return decrypt_subject(request.subject_ciphertext, owner=f"erasure request {request.pk}")
    except SubjectUnreadable as exc:
        raise ValidationError(str(exc)) from exc


def index_refresh_due(organization: Organization, *, since: datetime | None = None) -> bool:
    """Whether the organization's last whole scan ended more than ERASURE_INDEX_MAX_AGE_SECONDS
    ago, or never; one that ended at or after `since` (the wait began) is fresh enough."""
    last_done = _last_whole_scan_done(organization)
    if last_done is None:
        return True
    if since is not None and last_done >= since:
        return False
    return last_done < timezone.now() - timedelta(seconds=conf.ERASURE_INDEX_MAX_AGE_SECONDS)


def _refresh_index(request: ErasureRequest, by: AbstractBaseUser | None) -> Scan:
    organization = request.organization
    scan = scan_start(
        organization=organization,
        user=by,
        refresh=not full_scan_due(organization=organization),
    )
    transaction.on_commit(lambda: scan_organization.enqueue(scan.pk))
    machine.note(
        request=request,
        by=by,
        note=f"The index is being refreshed (scan {scan.pk}); the search runs when it ends.",
        sealed=f"waiting for scan {scan.pk}",
    )
    return scan


def erasure_request_discover(*, request: ErasureRequest, by: AbstractBaseUser) -> Discovery | None:
    """Search for the subject's files (received → discovering → review, or again from
    review). When the index is too old, start refreshing it and return None: the request
    waits in discovering and the sweep searches once the scan ends."""
    expected = RequestState(request.state)
    if expected not in (RequestState.RECEIVED, RequestState.REVIEW):
        raise ValidationError(f"A request {expected.label} cannot be searched again.")
    subject = _subject(request)
    if not machine.move(request=request, expected=expected, to=RequestState.DISCOVERING, by=by):
        raise ValidationError("The request changed meanwhile: reload it and try again.")
    if index_refresh_due(request.organization):
        _refresh_index(request, by)
        return None
    return _search(request, subject=subject, by=by)


def _search(
    request: ErasureRequest, *, subject: Subject, by: AbstractBaseUser, refresh_failure: str = ""
) -> Discovery:
    """Run every rule and move the request to review, all written in one transaction after
    Tallyfy was asked: another search of the same request that ends first wins, and this
    one's rows are rolled back."""
    answers = _guest_tasks(request.organization, subject)
    with transaction.atomic():
        completed_at, note = _index_state(request, refresh_failure)
        discovery = Discovery.objects.create(
            request=request, by=by, index_completed_at=completed_at, index_note=note
        )
        organization_files = indexed_files(organization=request.organization)
        seen: set[tuple[int, str]] = set()
        for search in _rules(organization_files, subject, request, answers):
            found = [f for f in search.files if (f.pk, search.rule) not in seen]
            seen.update((f.pk, search.rule) for f in found)
            Finding.objects.bulk_create(_findings(discovery, search.rule, found, search.candidate))
            RuleSearch.objects.create(
                discovery=discovery,
                rule=search.rule,
                searched_for=search.searched_for,
                found=len(found),
                outcome=search.outcome,
                note=search.note,
            )
        moved = machine.move(
            request=request,
            expected=RequestState.DISCOVERING,
            to=RequestState.REVIEW,
            by=by,
            note=f"Discovery {discovery.pk}: {discovery.findings.count()} finding(s).",
        )
        if not moved:  # searched by someone else meanwhile, or cancelled: keep theirs
            raise ValidationError("The request changed meanwhile: reload it and try again.")
    return discovery


def discovery_preview(*, organization: Organization, subject: Subject) -> list[_Search]:
    """What a discovery of `subject` would find now, recorded nowhere (erase_subject's dry
    run): every rule's search with its files. Asks Tallyfy for the guest's tasks, so it runs
    outside any transaction."""
    answers = _guest_tasks(organization, subject)
    request = ErasureRequest(organization=organization)  # unsaved: the rules read its org
    return [
        replace(search, files=list(search.files))
        for search in _rules(indexed_files(organization=organization), subject, request, answers)
    ]


def _resume(request: ErasureRequest) -> Discovery | None:
    """Search for a request waiting in discovering once nothing keeps it waiting: no whole
    scan of its organization under way, and the index fresh or its refresh ended badly."""
    organization = request.organization
    scans = Scan.objects.filter(organization=organization, run_id="")
    if scans.filter(state__in=UNFINISHED_SCAN_STATES).exists():
        return None
    entered = request.events.filter(to_state=RequestState.DISCOVERING).order_by("-at", "-id")
    wait = entered.first()
    by = (wait.by if wait else None) or request.created_by
    since = wait.at if wait else request.created_at
    refresh_failure = ""
    if index_refresh_due(organization, since=since):
        ended_badly = (
            scans.filter(state__in=(ScanState.FAILED, ScanState.CANCELLED), finished_at__gte=since)
            .order_by("-finished_at", "-id")
            .first()
        )
        if ended_badly is None:  # the scan to wait for was never started (a crash between)
            _refresh_index(request, by)
            return None
        how = ended_badly.get_state_display().lower()
        if ended_badly.last_error:
            how = f"{how}: {ended_badly.last_error.rstrip('.')}"
        refresh_failure = (
            f"The index refresh (scan {ended_badly.pk}) {how}. Files it did not reach were not "
            "searched: discover again once a scan completes."
        )
    return _search(request, subject=_subject(request), by=by, refresh_failure=refresh_failure)


def discoveries_resume() -> list[int]:
    """The sweep: search for every request waiting in discovering that may go on. Returns
    the ids of the discoveries made."""
    made = []
    waiting = ErasureRequest.objects.filter(state=RequestState.DISCOVERING)
    for request in waiting.select_related("organization", "created_by"):
        try:
            discovery = _resume(request)
        except ValidationError as exc:
            logger.warning(
                "erasure request %s not searched: %s", request.pk, " ".join(exc.messages)
            )
            continue
        if discovery is not None:
            made.append(discovery.pk)
    return made
