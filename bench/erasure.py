"""Benchmark: one guest's erasure in a generated organization (default 2,000 runs, 10,000
files), from an empty index to every file of theirs deleted with its log row, paced as the
product paces it against a sandbox enforcing the same rate limit.

    python -m bench.erasure DATABASE_URL [RUNS FILES LATENCY_MS RATE]
migrates DATABASE_URL, starts the sandbox in a process of its own serving a generated
organization (`python -m bench.erasure serve RUNS FILES`), tells it to add LATENCY_MS to every
call and to answer 429 beyond RATE requests a minute, sets the organization's rate in the panel
to RATE too, and erases the guest with the most uploads as an operator would, with two users:
`erase_subject` by the handler (the index is empty, so it scans the organization in its
process first, then searches and keeps every file found about the subject), the candidates
(an unknown uploader beside the guest's uploads) decided by a reviewer who knows, as the
sandbox does, which are the guest's (`erasure.review.finding_decide`), the request sent for
approval (`erasure.approval.erasure_request_send`), then `erase_subject --approve --yes` by the
approver, which runs the deletion job in its process and completes the request.

The minimum is the fewest calls the documented endpoints allow: the scan's listing minimum
(`bench.catalog_scan.minimum_calls`) plus one metadata read and one DELETE a file deleted, at
RATE a minute. It prints one JSON object: the time and calls against that minimum, the guest's
uploads as the sandbox's feed records them against those deleted (an upload the feed names only
by its task or run, whose file name is not unique there, cannot be told from others' and stays
in Tallyfy unless it is a candidate), the files deleted that were not the guest's, and whether
every file deleted has its log row.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from io import StringIO
from typing import Any

from bench.catalog_scan import FILES, LATENCY_MS, RATE, RUNS, minimum_calls, paced_organization
from bench.harness import PYTHON, ROOT
from devtools.processes import wait_for_port
from sandbox.control import sandbox_control


def serve(runs: int, files: int) -> None:
    """The sandbox serving a generated organization: prints its port, id, token, the listing
    minimum and each guest's uploads as JSON; then, for each `left ASSET_ID...` line on its
    standard input, the ids of those files it still has."""
    from sandbox.faults import FaultPlan
    from sandbox.places import generate_organization
    from sandbox.server import make_server, start_in_thread
    from sandbox.store import Store

    store = Store(":memory:")
    org_id, token = generate_organization(store, runs=runs, files=files)
    server = make_server(store=store, faults=FaultPlan())
    uploads: dict[str, list[str]] = {}
    for row in store.query(
        "SELECT actor_email, asset_id FROM feed WHERE org_id = ? AND verb = 'uploaded' "
        "AND actor_type = 'guest' ORDER BY id",
        (org_id,),
    ):
        uploads.setdefault(row["actor_email"], []).append(row["asset_id"])
    served = {
        "port": server.server_address[1],
        "org_id": org_id,
        "token": token,
        "guests": uploads,
        **minimum_calls(store, org_id),
    }
    print(json.dumps(served), flush=True)
    start_in_thread(server)
    for line in sys.stdin:
        word, *ids = line.split()
        if word == "left":
            left = [i for i in ids if store.asset(org_id=org_id, asset_id=i) is not None]
            print(json.dumps(left), flush=True)


def measure(database_url: str, runs: int, files: int, latency_ms: int, rate: int) -> dict[str, Any]:
    from bench.log_scale import configure

    configure(database_url)
    box = subprocess.Popen(
        [PYTHON, "-m", "bench.erasure", "serve", str(runs), str(files)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        served = json.loads(box.stdout.readline())  # type: ignore[union-attr]
        wait_for_port(served["port"])
        found = erase(served, latency_ms=latency_ms, rate=rate)
        guest = found["guest_uploads"]
        box.stdin.write("left " + " ".join(guest) + "\n")  # type: ignore[union-attr]
        box.stdin.flush()  # type: ignore[union-attr]
        left = json.loads(box.stdout.readline())  # type: ignore[union-attr]
    finally:
        box.terminate()
        box.wait(30)
    deleted = set(found.pop("deleted"))
    guest_set = set(found.pop("guest_uploads"))
    deleted_guest = len(deleted & guest_set)
    # The fewest calls for the same result: every file deleted (the rules keep files on the
    # guest's tasks and kick-off forms that others uploaded too); and for the guest's alone.
    minimum = served["minimum_calls"] + 2 * len(deleted)
    minimum_seconds = minimum * 60 / rate
    guest_minimum = served["minimum_calls"] + 2 * deleted_guest
    return {
        "generated": {"runs": runs, "files": files},
        "rate": rate,
        "latency_ms": latency_ms,
        "listing_minimum_calls": served["minimum_calls"],
        "guest uploads (feed)": len(guest_set),
        "guest files deleted": deleted_guest,
        "guest files left in Tallyfy": len(left),
        "other files deleted": len(deleted - guest_set),
        "minimum_calls": minimum,
        "minimum_seconds": round(minimum_seconds, 1),
        "ratio": round(found["seconds"] / minimum_seconds, 3),
        "calls ratio": round(found["calls"] / minimum, 3),
        "guest-only minimum_calls": guest_minimum,
        "ratio to the guest-only minimum": round(found["seconds"] / (guest_minimum * 60 / rate), 3),
        **found,
    }


def _command(*args: str) -> tuple[int, str, str]:
    from django.core.management import CommandError, call_command

    out, err = StringIO(), StringIO()
    try:
        call_command("erase_subject", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


def _users() -> tuple[Any, Any]:
    from django.contrib.auth.models import Permission, User

    from organizations.models import OrganizationAccess

    def staff(name: str, *perms: str) -> User:
        user = User.objects.create_user(username=name, is_staff=True)
        for perm in ("erasure.handle_erasurerequest", *perms):
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        OrganizationAccess.objects.create(user=user, all_organizations=True)
        return User.objects.get(pk=user.pk)

    return (
        staff("handler", "files.lookup_file", "files.delete_file"),
        staff("approver", "jobs.approve_deletionjob"),
    )


def erase(served: dict[str, Any], *, latency_ms: int, rate: int) -> dict[str, Any]:
    from erasure.approval import erasure_request_send
    from erasure.models import Decision, ErasureRequest, LeaveOutReason, RequestState
    from erasure.outcomes import Outcome, file_outcomes
    from erasure.review import finding_decide
    from erasure.selectors import latest_discovery
    from files.models import FileDeletion

    handler, _approver = _users()
    email, uploads = max(served["guests"].items(), key=lambda item: len(item[1]))
    theirs = set(uploads)
    _organization, root = paced_organization(served, latency_ms=latency_ms, rate=rate)

    started = time.monotonic()
    status, _, err = _command(
        *("--organization", "Generated", "--email", email, "--reference", "DSR-BENCH"),
        *("--user", "handler"),
    )
    intake_done = time.monotonic()
    if status not in (3, 6):
        raise RuntimeError(f"erase_subject exited {status}: {err[-500:]}")
    request = ErasureRequest.objects.get()
    discovery = latest_discovery(request_id=request.pk)
    candidates = list(
        discovery.findings.filter(decision=Decision.UNDECIDED, is_candidate=True).order_by("pk")
    )
    kept_candidates = 0
    for finding in candidates:
        if finding.asset_id in theirs:
            kept_candidates += 1
            finding_decide(finding=finding, decision=Decision.KEEP, by=handler)
        else:
            finding_decide(
                finding=finding,
                decision=Decision.LEAVE_OUT,
                reason=LeaveOutReason.NOT_ABOUT_SUBJECT,
                by=handler,
            )
    if request.state == RequestState.REVIEW:
        erasure_request_send(request=request, by=handler)
    reviewed = time.monotonic()
    status, _, err = _command(
        "--approve", str(request.pk), "--user", "approver", "--yes", "--worker-wait", "0"
    )
    seconds = time.monotonic() - started
    approval_seconds = time.monotonic() - reviewed
    request.refresh_from_db()
    outcomes = file_outcomes(request)
    deleted = [o.asset_id for o in outcomes if o.outcome == Outcome.DELETED]
    logged = FileDeletion.objects.filter(asset_id__in=deleted, state="deleted").count()
    requests = [r for r in sandbox_control(root, "requests") if r["path"].startswith("/api")]
    limits = sandbox_control(root, "rate-limit")
    by_kind: dict[str, int] = {}
    for r in requests:
        kind = "DELETE" if r["method"] == "DELETE" else endpoint(r)
        by_kind[kind] = by_kind.get(kind, 0) + 1
    return {
        "exit status": status,
        "errors": err[-1000:] if status else "",
        "request state": request.state,
        "seconds": round(seconds, 1),
        "intake seconds (scan, discovery, keeping)": round(intake_done - started, 1),
        "review seconds (candidates, sending)": round(reviewed - intake_done, 1),
        "approval seconds (preview, deletions, completion)": round(approval_seconds, 1),
        "calls": len(requests),
        "calls by kind": by_kind,
        "limited": limits["limited"],
        "found by the rules": len({o.asset_id for o in outcomes}),
        "candidates": len(candidates),
        "candidates kept (the guest's)": kept_candidates,
        "deleted with a log row": logged,
        "deleted": deleted,
        "guest_uploads": sorted(theirs),
    }


def endpoint(request: dict[str, Any]) -> str:
    from bench.catalog_scan import endpoint as scan_endpoint

    if request["path"].rstrip("/").split("/")[-2] == "assets":
        return "a file's metadata"
    return scan_endpoint(request)


def rows(data: dict[str, Any], *, vendor: str) -> list[dict[str, Any]]:
    """The benchmark's rows for bench/run.py's table."""
    setting = (
        f"erasure of one guest, {data['generated']['runs']:,} runs and "
        f"{data['generated']['files']:,} files ({vendor}), from an empty index, "
        f"organization's rate and sandbox {data['rate']}/min, +{data['latency_ms']} ms a call"
    )
    return [
        {
            "figure": f"{setting}: time to every file kept deleted with its log row vs the "
            "minimum for the same result (listing minimum + a metadata read and a DELETE a "
            "file deleted, at the rate)",
            "ours": f"{data['seconds']:.0f} s, {data['calls']:,} calls ("
            + ", ".join(f"{kind} {n}" for kind, n in sorted(data["calls by kind"].items()))
            + f"); {data['guest files deleted']} of the guest's {data['guest uploads (feed)']} "
            f"uploads deleted, {data['deleted with a log row']} log rows, "
            f"{data['other files deleted']} other files",
            "reference": f"{data['minimum_seconds']:.0f} s, {data['minimum_calls']:,} calls "
            f"({data['listing_minimum_calls']} listing + 2 x {data['deleted with a log row']}); "
            f"for the guest's {data['guest files deleted']} alone "
            f"{data['guest-only minimum_calls']:,} calls (ratio "
            f"{data['ratio to the guest-only minimum']})",
            "ratio": data["ratio"],
            "target": "≤ 1.25",
            "met": data["ratio"] <= 1.25 and data["request state"] == "completed",
        },
        {
            "figure": f"{setting}: where the time went",
            "ours": f"intake {data['intake seconds (scan, discovery, keeping)']:.0f} s (scan, "
            f"search, {data['found by the rules']} files kept), review "
            f"{data['review seconds (candidates, sending)']:.0f} s ({data['candidates']} "
            f"candidates, {data["candidates kept (the guest's)"]} the guest's), approval "
            f"{data['approval seconds (preview, deletions, completion)']:.0f} s (preview, "
            f"deletions, completion); {data['limited']} answered 429; request "
            f"{data['request state']}, exit {data['exit status']}",
            "reference": f"{data['guest files left in Tallyfy']} of the guest's uploads left in "
            "Tallyfy: no rule finds them (uploads the feed names only by their task or run, "
            "that the scan could not attribute, outside the runs and tasks of the guest's "
            "known uploads)",
            "ratio": None,
            "target": "",
            "met": None,
        },
    ]


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        serve(*(int(arg) for arg in argv[1:3]))
        return
    database_url, *numbers = argv
    runs, files, latency_ms, rate = (int(n) for n in numbers or (RUNS, FILES, LATENCY_MS, RATE))
    print(json.dumps(measure(database_url, runs, files, latency_ms, rate)))


if __name__ == "__main__":
    main(sys.argv[1:])
