"""The journal's bounds: entries per file and files in all."""

from __future__ import annotations

from sandbox.journal import FileJournal


def test_old_entries_of_a_file_are_dropped_and_counted() -> None:
    journal = FileJournal(per_file=2)
    for _ in range(3):
        journal.start(org_id="o", asset_id="a", method="GET", route="get_asset")
    record = journal.read()["files"]["a"]
    assert [e["seq"] for e in record["entries"]] == [2, 3]
    assert record["dropped"] == 1


def test_the_least_recently_touched_file_is_forgotten() -> None:
    journal = FileJournal(files=2)
    for asset in ("a", "b", "a", "c"):
        journal.start(org_id="o", asset_id=asset, method="GET", route="get_asset")
    read = journal.read()
    assert sorted(read["files"]) == ["a", "c"]
    assert read["forgotten"] == 1
