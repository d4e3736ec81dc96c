"""The chaos test's checks catch what they are meant to: a clean snapshot passes, and each
invariant reports a violation planted in hand-made rows or journal, naming job, file and rows."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from tests.chaos.invariants import Snapshot, check_all, failures

A, B, C = "a" * 32, "b" * 32, "c" * 32


def entry(seq: int, method: str, kind: str, status: int | None, **marks: bool) -> dict[str, Any]:
    return {
        "seq": seq,
        "method": method,
        "kind": kind,
        "status": status,
        "applied": marks.get("applied", False),
        "late": marks.get("late", False),
    }


def clean() -> Snapshot:
    """Job 1 deleted A (its answer lost, a check timed out, a second one answered 404) and
    found B still there (a 429, two 5xx with a check between: a failed row); job 2, paused with
    nothing claimed, has not tried C yet."""
    finished = datetime(2026, 1, 1, tzinfo=UTC)
    return Snapshot(
        jobs=[
            {"pk": 1, "state": "finished", "finished_at": finished},
            {"pk": 2, "state": "paused", "finished_at": None},
        ],
        job_files=[
            {
                "pk": 10,
                "job_id": 1,
                "asset_id": A,
                "preview": "found",
                "state": "done",
                "claimed_by": "",
                "deletion_id": 100,
            },
            {
                "pk": 11,
                "job_id": 1,
                "asset_id": B,
                "preview": "found",
                "state": "done",
                "claimed_by": "",
                "deletion_id": 101,
            },
            {
                "pk": 12,
                "job_id": 2,
                "asset_id": C,
                "preview": "found",
                "state": "waiting",
                "claimed_by": "",
                "deletion_id": None,
            },
        ],
        deletions=[
            {"pk": 100, "job_id": 1, "asset_id": A, "state": "deleted"},
            {"pk": 101, "job_id": 1, "asset_id": B, "state": "failed"},
        ],
        progress={
            1: {
                "preview": {"found": 2},
                "files": {"done": 2},
                "log": {"deleted": 1, "failed": 1},
                "done": 2,
                "to_delete": 2,
            },
            2: {
                "preview": {"found": 1},
                "files": {"waiting": 1},
                "log": {},
                "done": 0,
                "to_delete": 1,
            },
        },
        journal={
            A: {
                "exists": False,
                "dropped": 0,
                "entries": [
                    entry(1, "GET", "metadata", 200),
                    entry(4, "DELETE", "delete", None, applied=True),
                    entry(5, "GET", "metadata", 200, late=True),
                    entry(6, "GET", "metadata", 404),
                ],
            },
            B: {
                "exists": True,
                "dropped": 0,
                "entries": [
                    entry(2, "GET", "metadata", 200),
                    entry(8, "DELETE", "delete", 429),
                    entry(9, "DELETE", "delete", 503),
                    entry(10, "GET", "metadata", 200),
                    entry(11, "DELETE", "delete", 503),
                ],
            },
            C: {"exists": True, "dropped": 0, "entries": [entry(3, "GET", "metadata", 200)]},
        },
        live_at_idle={"w1"},
    )


def violated(snapshot: Snapshot) -> dict[str, list[str]]:
    return {number: found for number, found in check_all(snapshot).items() if found}


def test_a_clean_snapshot_passes() -> None:
    assert violated(clean()) == {}


def test_1_a_second_delete_with_no_check_after_the_first_is_blind() -> None:
    snapshot = clean()
    del snapshot.journal[A]["entries"][2:]
    snapshot.journal[A]["entries"].append(entry(7, "DELETE", "delete", 404))
    found = violated(snapshot)
    assert list(found) == ["1"]
    assert f"file {A}: DELETE #7 was sent after DELETE #4" in found["1"][0]


def test_1_a_check_whose_answer_came_too_late_does_not_count() -> None:
    snapshot = clean()
    snapshot.journal[A]["entries"][3] = entry(7, "DELETE", "delete", 404)
    found = violated(snapshot)
    assert list(found) == ["1"]
    assert "DELETE #7 was sent after DELETE #4" in found["1"][0]


def test_1_a_delete_after_a_check_that_found_the_file_gone_is_blind() -> None:
    snapshot = clean()
    snapshot.journal[A]["entries"].append(entry(7, "DELETE", "delete", 404))
    assert list(violated(snapshot)) == ["1"]


def test_1_a_check_made_before_the_earlier_delete_does_not_count() -> None:
    snapshot = clean()
    snapshot.journal[B]["entries"] = [
        entry(2, "GET", "metadata", 200),
        entry(8, "DELETE", "delete", 503),
        entry(11, "DELETE", "delete", 503),
    ]
    found = violated(snapshot)
    assert list(found) == ["1"]
    assert "DELETE #11 was sent after DELETE #8" in found["1"][0]


def test_1_two_applied_deletes_are_reported() -> None:
    snapshot = clean()
    snapshot.journal[A]["entries"][3] = entry(7, "DELETE", "delete", 200, applied=True)
    assert "Tallyfy applied 2 DELETEs" in violated(snapshot)["1"][0]


def test_1_a_truncated_journal_cannot_pass() -> None:
    snapshot = clean()
    snapshot.journal[C]["dropped"] = 3
    assert "dropped 3" in violated(snapshot)["1"][0]


def test_2_a_pending_row_is_reported() -> None:
    snapshot = clean()
    snapshot.deletions[1]["state"] = "pending"
    snapshot.progress[1]["log"] = {"deleted": 1, "pending": 1}
    found = violated(snapshot)
    assert list(found) == ["2"]
    assert f"job 1, file {B}: log row 101 is still pending" in found["2"][0]


def test_2_an_unknown_row_left_after_reconcile_is_reported() -> None:
    snapshot = clean()
    snapshot.deletions[1]["state"] = "unknown"
    snapshot.progress[1]["log"] = {"deleted": 1, "unknown": 1}
    assert "is unknown, not settled" in violated(snapshot)["2"][0]


def test_2_two_rows_for_one_file_of_a_job_are_reported() -> None:
    snapshot = clean()
    snapshot.deletions.append({"pk": 102, "job_id": 1, "asset_id": A, "state": "already_gone"})
    snapshot.progress[1]["log"] = {"deleted": 1, "failed": 1, "already_gone": 1}
    found = violated(snapshot)
    assert f"job 1, file {A}: 2 log rows (row 100 deleted, row 102 already_gone)" in found["2"]


def test_3_a_job_left_running_is_stuck() -> None:
    snapshot = clean()
    snapshot.jobs[1]["state"] = "running"
    found = violated(snapshot)
    assert list(found) == ["3"]
    assert (
        "job 2 is stuck running with the workers idle: 1 found file(s) still waiting"
        in (found["3"][0])
    )


def test_3_a_cancelled_job_never_ended_or_with_files_waiting_is_reported() -> None:
    snapshot = clean()
    snapshot.jobs[1]["state"] = "cancelled"
    found = violated(snapshot)["3"]
    assert any("job 2 is cancelled but was never finished" in line for line in found)
    assert any("job 2 is cancelled with 1 file(s) still waiting" in line for line in found)


def test_3_a_paused_job_with_a_file_claimed_by_a_dead_worker_is_reported() -> None:
    snapshot = clean()
    snapshot.job_files[2]["claimed_by"] = "w9"
    found = violated(snapshot)
    assert list(found) == ["3"]
    assert f"file {C} is still claimed by worker w9 (dead when the work stopped)" in found["3"][0]


def test_4_progress_that_disagrees_with_the_rows_is_reported() -> None:
    snapshot = clean()
    snapshot.progress[1]["log"] = {"deleted": 2}
    found = violated(snapshot)
    assert list(found) == ["4"]
    assert "job 1: its progress says log = {'deleted': 2}" in found["4"][0]


def test_4_a_log_row_not_linked_from_its_file_is_reported() -> None:
    snapshot = clean()
    snapshot.job_files[1].update(state="refused", deletion_id=None)
    snapshot.progress[1].update(files={"done": 1, "refused": 1})
    found = violated(snapshot)
    assert f"job 1, file {B}: log row 101 (failed) is not linked" in found["4"][0]


def test_5_a_file_tallyfy_deleted_recorded_failed_is_reported() -> None:
    snapshot = clean()
    snapshot.deletions[0]["state"] = "failed"
    snapshot.progress[1]["log"] = {"failed": 2}
    found = violated(snapshot)
    assert list(found) == ["5"]
    assert f"job 1, file {A} (file done; row 100 failed): Tallyfy deleted it" in found["5"][0]


def test_5_a_file_tallyfy_deleted_marked_not_attempted_is_reported() -> None:
    snapshot = clean()
    snapshot.journal[C]["entries"].append(entry(12, "DELETE", "delete", 200, applied=True))
    snapshot.journal[C]["exists"] = False
    snapshot.jobs[1].update(state="cancelled", finished_at=snapshot.jobs[0]["finished_at"])
    snapshot.job_files[2]["state"] = "not_attempted"
    snapshot.progress[2].update(files={"not_attempted": 1}, done=0)  # not attempted: not done
    found = violated(snapshot)
    assert list(found) == ["5"]
    assert f"job 2, file {C} (file not_attempted; no row): Tallyfy deleted it" in found["5"][0]
    assert "no log row records it" in found["5"][1]


def test_5_a_file_still_there_recorded_deleted_is_reported() -> None:
    snapshot = clean()
    snapshot.deletions[1]["state"] = "deleted"
    snapshot.progress[1]["log"] = {"deleted": 2}
    found = violated(snapshot)
    assert list(found) == ["5"]
    assert (
        f"job 1, file {B} (file done; row 101 deleted): the file is still in Tallyfy"
        in (found["5"][0])
    )


def test_failures_names_each_invariant_broken() -> None:
    snapshot = copy.deepcopy(clean())
    snapshot.deletions[1]["state"] = "pending"
    report = failures(check_all(snapshot))
    assert report.startswith("invariant 2 (each (job, file): at most one log row")
    assert "invariant 1" not in report


def test_4_a_file_not_done_yet_linked_to_a_log_row_is_reported() -> None:
    snapshot = clean()
    snapshot.job_files[1]["state"] = "refused"
    snapshot.progress[1].update(files={"done": 1, "refused": 1})
    found = violated(snapshot)
    assert list(found) == ["4"]
    assert f"job 1, file {B}: refused, yet linked to log row 101 (failed)" in found["4"][0]
