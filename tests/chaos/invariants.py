"""The invariants a chaos run must leave true, checked on a snapshot of plain data: the jobs'
tables, the deletion log and the sandbox's per-file journal. Each check returns its
violations as sentences naming the job, the file and the rows, so a failure can be read
without a debugger; `check_all` runs them all.

The snapshot is taken once the workers are idle (then stopped) and `reconcile_deletions` ran.
Each file is expected in at most one job (the driver's jobs ask for disjoint files): the
truth of a log row is judged against the one job that could have deleted the file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.chaos import jobs_adapter as jobs

INVARIANTS = {
    "1": "each file: at most one applied DELETE, and no second DELETE without a check between",
    "2": "each (job, file): at most one log row, settled (never pending or unknown)",
    "3": "each job ended, or paused with no file still claimed",
    "4": "each job's counts equal its rows, and its files and log rows point at each other",
    "5": "the log tells the truth: deleted in Tallyfy is never failed or not attempted, and a "
    "file still there is never recorded deleted or already gone",
}


@dataclass
class Snapshot:
    jobs: list[dict[str, Any]]  # pk, state, finished_at
    job_files: list[dict[str, Any]]  # pk, job_id, asset_id, preview, state, claimed_by, deletion_id
    deletions: list[dict[str, Any]]  # pk, job_id, asset_id, state
    progress: dict[int, dict[str, Any]]  # job id -> jobs_adapter.job_progress_counts()
    # asset id -> {"entries": [{seq, method, kind, status, applied, late}], "dropped", "exists"}
    journal: dict[str, dict[str, Any]]
    live_at_idle: set[str] = field(default_factory=set)  # worker ids alive when work stopped


def check_all(snapshot: Snapshot) -> dict[str, list[str]]:
    return {
        "1": deletes_never_blind(snapshot),
        "2": one_settled_row(snapshot),
        "3": jobs_at_rest(snapshot),
        "4": counts_match_rows(snapshot),
        "5": log_tells_the_truth(snapshot),
    }


def failures(results: dict[str, list[str]]) -> str:
    """Every violation, under its invariant's number and meaning; empty when none."""
    parts = []
    for number, found in results.items():
        if found:
            listed = "\n".join(f"  - {line}" for line in found[:25])
            more = f"\n  ... and {len(found) - 25} more" if len(found) > 25 else ""
            parts.append(f"invariant {number} ({INVARIANTS[number]}): {len(found)}\n{listed}{more}")
    return "\n".join(parts)


def describe_journal(entries: list[dict[str, Any]]) -> str:
    def one(entry: dict[str, Any]) -> str:
        status = "no answer" if entry["status"] is None else str(entry["status"])
        marks = [m for m, on in (("applied", entry["applied"]), ("late", entry["late"])) if on]
        note = f" ({', '.join(marks)})" if marks else ""
        return f"#{entry['seq']} {entry['method']} {entry['kind']} -> {status}{note}"

    return "; ".join(one(entry) for entry in entries)


# --- 1 ---------------------------------------------------------------------------------------


def deletes_never_blind(snapshot: Snapshot) -> list[str]:
    """Per file, in the sandbox's own order: at most one DELETE applied; and every DELETE after
    one that may have been applied (any answer but 429, which Tallyfy never applies) follows a
    metadata GET that answered 200 in time, after that earlier DELETE arrived. A check made
    before the earlier DELETE, or one whose answer came too late for its client, proves
    nothing about the file after it."""
    found = []
    for asset_id, record in sorted(snapshot.journal.items()):
        entries = sorted(record["entries"], key=lambda e: e["seq"])
        if record.get("dropped"):
            found.append(
                f"file {asset_id}: the journal dropped {record['dropped']} of its entries, so "
                "it cannot be checked (raise the sandbox journal's per-file bound)"
            )
            continue
        applied = [e for e in entries if e["kind"] == "delete" and e["applied"]]
        if len(applied) > 1:
            found.append(
                f"file {asset_id}: Tallyfy applied {len(applied)} DELETEs "
                f"({describe_journal(entries)})"
            )
        previous: dict[str, Any] | None = None
        checked = False
        for entry in entries:
            if entry["kind"] == "metadata" and entry["status"] == 200 and not entry["late"]:
                checked = True
            if entry["kind"] != "delete":
                continue
            if previous is not None and not checked:
                found.append(
                    f"file {asset_id}: DELETE #{entry['seq']} was sent after DELETE "
                    f"#{previous['seq']} (answered {previous['status'] or 'nothing'}) with no "
                    f"metadata check answering 200 in between: a blind second DELETE. Journal: "
                    f"{describe_journal(entries)}"
                )
            if entry["status"] != 429:
                previous, checked = entry, False
    return found


# --- 2 ---------------------------------------------------------------------------------------


def one_settled_row(snapshot: Snapshot) -> list[str]:
    found = []
    asked = {(f["job_id"], f["asset_id"]) for f in snapshot.job_files}
    rows: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in snapshot.deletions:
        if row["job_id"] is not None:
            rows[(row["job_id"], row["asset_id"])].append(row)
    for (job_id, asset_id), mine in sorted(rows.items()):
        listed = _rows(mine)
        if len(mine) > 1:
            found.append(f"job {job_id}, file {asset_id}: {len(mine)} log rows ({listed})")
        for row in mine:
            if row["state"] == jobs.LOG_PENDING:
                found.append(
                    f"job {job_id}, file {asset_id}: log row {row['pk']} is still pending with "
                    "the workers idle and reconcile run"
                )
            elif row["state"] not in jobs.LOG_FINAL:
                found.append(
                    f"job {job_id}, file {asset_id}: log row {row['pk']} is {row['state']}, not "
                    "settled, after reconcile ran with the faults off"
                )
        if (job_id, asset_id) not in asked:
            found.append(
                f"job {job_id}, file {asset_id}: log row(s) {listed} for a file the job never "
                "asked for"
            )
    return found


def _rows(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"row {r['pk']} {r['state']}" for r in rows)


# --- 3 ---------------------------------------------------------------------------------------


def jobs_at_rest(snapshot: Snapshot) -> list[str]:
    found = []
    files_of = _files_by_job(snapshot)
    for job in snapshot.jobs:
        job_id, state, files = job["pk"], job["state"], files_of[job["pk"]]
        waiting = [f for f in files if f["state"] == jobs.FILE_WAITING]
        claimed = [f for f in files if f["claimed_by"]]
        summary = _file_summary(files)
        if state in jobs.ENDED:
            if job["finished_at"] is None:
                found.append(
                    f"job {job_id} is {state} but was never finished (no finished_at: a "
                    f"worker never ended it, its creator is never told); files: {summary}"
                )
            if waiting:
                found.append(
                    f"job {job_id} is {state} with {len(waiting)} file(s) still waiting "
                    f"({_ids(waiting)}); files: {summary}"
                )
        elif state not in jobs.RESUMABLE:
            wanted = [f for f in waiting if f["preview"] == jobs.PREVIEW_FOUND]
            found.append(
                f"job {job_id} is stuck {state} with the workers idle: {len(wanted)} found "
                f"file(s) still waiting; files: {summary}"
            )
        for job_file in claimed if state in jobs.ENDED | jobs.RESUMABLE else []:
            holder = job_file["claimed_by"]
            alive = "alive" if holder in snapshot.live_at_idle else "dead"
            found.append(
                f"job {job_id} ({state}): file {job_file['asset_id']} is still claimed by "
                f"worker {holder} ({alive} when the work stopped), in state {job_file['state']}"
            )
    return found


def _files_by_job(snapshot: Snapshot) -> dict[int, list[dict[str, Any]]]:
    files: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for job_file in snapshot.job_files:
        files[job_file["job_id"]].append(job_file)
    return files


def _file_summary(files: list[dict[str, Any]]) -> str:
    counts = Counter(f"{f['preview']}/{f['state']}" for f in files)
    return ", ".join(f"{n} {key}" for key, n in sorted(counts.items())) or "none"


def _ids(files: list[dict[str, Any]], limit: int = 5) -> str:
    ids = [f["asset_id"] for f in files[:limit]]
    return ", ".join(ids) + (" ..." if len(files) > limit else "")


# --- 4 ---------------------------------------------------------------------------------------


def counts_match_rows(snapshot: Snapshot) -> list[str]:
    found = []
    files_of = _files_by_job(snapshot)
    rows_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in snapshot.deletions:
        if row["job_id"] is not None:
            rows_of[row["job_id"]].append(row)
    by_pk = {row["pk"]: row for row in snapshot.deletions}
    for job in snapshot.jobs:
        job_id = job["pk"]
        files, rows = files_of[job_id], rows_of[job_id]
        shown = snapshot.progress.get(job_id)
        if shown is None:
            found.append(f"job {job_id}: no progress was read")
            continue
        actual = {
            "files": dict(Counter(f["state"] for f in files)),
            "preview": dict(Counter(f["preview"] for f in files)),
            "log": dict(Counter(r["state"] for r in rows)),
            "to_delete": sum(1 for f in files if f["preview"] == jobs.PREVIEW_FOUND),
            "done": sum(1 for f in files if f["state"] in jobs.FILE_FINISHED),
        }
        for key, value in actual.items():
            if _nonzero(shown.get(key)) != _nonzero(value):
                found.append(
                    f"job {job_id}: its progress says {key} = {shown.get(key)}, its rows say "
                    f"{value}"
                )
        for job_file in files:
            linked = job_file["deletion_id"]
            asset_id = job_file["asset_id"]
            if job_file["state"] == jobs.FILE_DONE and linked is None:
                found.append(f"job {job_id}, file {asset_id}: done, with no log row linked")
            if linked is not None and job_file["state"] != jobs.FILE_DONE:
                found.append(
                    f"job {job_id}, file {asset_id}: {job_file['state']}, yet linked to log row "
                    f"{linked} ({by_pk[linked]['state'] if linked in by_pk else 'missing'})"
                )
            if linked is not None:
                row = by_pk.get(linked)
                if row is None:
                    found.append(f"job {job_id}, file {asset_id}: linked to missing row {linked}")
                elif (row["job_id"], row["asset_id"]) != (job_id, asset_id):
                    found.append(
                        f"job {job_id}, file {asset_id}: linked to log row {linked}, which is "
                        f"of job {row['job_id']}, file {row['asset_id']}"
                    )
        linked_rows = {f["deletion_id"] for f in files if f["deletion_id"] is not None}
        state_of = {f["asset_id"]: f["state"] for f in files}
        for row in rows:
            if row["pk"] not in linked_rows:
                found.append(
                    f"job {job_id}, file {row['asset_id']}: log row {row['pk']} ({row['state']}) "
                    f"is not linked from the job's file (file state "
                    f"{state_of.get(row['asset_id'], 'absent')})"
                )
    return found


def _nonzero(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v}
    return value


# --- 5 ---------------------------------------------------------------------------------------


def log_tells_the_truth(snapshot: Snapshot) -> list[str]:
    found = []
    jobs_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job_file in snapshot.job_files:
        jobs_of[job_file["asset_id"]].append(job_file)
    rows_of: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in snapshot.deletions:
        rows_of[(row["job_id"], row["asset_id"])].append(row)
    for asset_id, job_files in sorted(jobs_of.items()):
        if len(job_files) > 1:
            found.append(
                f"file {asset_id} is in jobs {[f['job_id'] for f in job_files]}: the harness "
                "gives each file one job, so its log cannot be judged"
            )
            continue
        job_file = job_files[0]
        job_id = job_file["job_id"]
        record = snapshot.journal.get(asset_id)
        if record is None:
            found.append(f"job {job_id}, file {asset_id}: the sandbox was not asked about it")
            continue
        entries = record["entries"]
        deleted = any(e["kind"] == "delete" and e["applied"] for e in entries)
        rows = rows_of[(job_id, asset_id)]
        where = (
            f"job {job_id}, file {asset_id} (file {job_file['state']}; {_rows(rows) or 'no row'})"
        )
        if deleted:
            if job_file["state"] == jobs.FILE_NOT_ATTEMPTED:
                found.append(f"{where}: Tallyfy deleted it, the job says not attempted")
            elif job_file["state"] != jobs.FILE_DONE:
                found.append(f"{where}: Tallyfy deleted it, the job says {job_file['state']}")
            if not rows:
                found.append(
                    f"{where}: Tallyfy deleted it and no log row records it (a DELETE sent "
                    f"without its row written first). Journal: {describe_journal(entries)}"
                )
            for row in rows:
                if row["state"] not in jobs.LOG_GONE:
                    found.append(
                        f"{where}: Tallyfy deleted it, log row {row['pk']} says {row['state']}. "
                        f"Journal: {describe_journal(entries)}"
                    )
        elif record["exists"]:
            for row in rows:
                if row["state"] in jobs.LOG_GONE:
                    found.append(
                        f"{where}: the file is still in Tallyfy, log row {row['pk']} says "
                        f"{row['state']}. Journal: {describe_journal(entries)}"
                    )
    return found
