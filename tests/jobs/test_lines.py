from __future__ import annotations

from jobs.lines import files_from_csv, files_from_text

ORG = "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d"


def test_ids_and_urls_one_a_line() -> None:
    parsed = files_from_text(
        f"aaaa\n\n  bbbb  \nhttps://go.tallyfy.com/api/organizations/{ORG}/file/cccc/dl\n"
    )
    assert [(f.line, f.asset_id, f.org_id) for f in parsed.files] == [
        (1, "aaaa", None),
        (3, "bbbb", None),
        (4, "cccc", ORG),
    ]
    assert parsed.bad == []


def test_bad_lines_are_listed_with_their_numbers_and_reasons() -> None:
    parsed = files_from_text("good\nnot an id\nhttps://example.com/x/y\n")
    assert [(b.line, b.text) for b in parsed.bad] == [
        (2, "not an id"),
        (3, "https://example.com/x/y"),
    ]
    assert all(b.reason for b in parsed.bad)
    assert [f.asset_id for f in parsed.files] == ["good"]


def test_repeats_are_merged_and_counted() -> None:
    parsed = files_from_text(f"aaaa\naaaa\nhttps://x/organizations/{ORG}/file/aaaa\nbbbb\n")
    assert [f.asset_id for f in parsed.files] == ["aaaa", "bbbb"]
    assert parsed.duplicates == 2


def test_csv_with_an_id_column() -> None:
    parsed = files_from_csv(b"\xef\xbb\xbfname,File ID\nreport.pdf,aaaa\nother.pdf,bbbb\n")
    assert [(f.line, f.asset_id) for f in parsed.files] == [(2, "aaaa"), (3, "bbbb")]


def test_csv_with_a_url_column() -> None:
    parsed = files_from_csv(f"url\nhttps://go.tallyfy.com/organizations/{ORG}/file/aaaa\n".encode())
    assert [(f.asset_id, f.org_id) for f in parsed.files] == [("aaaa", ORG)]


def test_csv_of_one_column_without_a_header() -> None:
    parsed = files_from_csv(b"aaaa\nbbbb\n")
    assert [f.asset_id for f in parsed.files] == ["aaaa", "bbbb"]


def test_csv_of_several_columns_without_an_id_column_is_refused() -> None:
    parsed = files_from_csv(b"name,size\nreport.pdf,12\n")
    assert parsed.files == []
    assert "No column named id or url" in parsed.bad[0].reason


def test_csv_that_is_not_utf8_is_refused() -> None:
    parsed = files_from_csv(b"\xff\xfe\x00a")
    assert parsed.files == []
    assert "UTF-8" in parsed.bad[0].reason


def test_a_csv_field_over_the_csv_modules_limit_is_a_bad_line() -> None:
    data = b"id\naaaa\n" + b"x" * 200_000 + b"\n"
    parsed = files_from_csv(data)
    assert parsed.files == []
    (bad,) = parsed.bad
    assert bad.line == 3
    assert bad.reason.startswith("Line 3 cannot be read as CSV: field larger than field limit")


def test_a_results_cell_has_no_control_or_bidi_characters() -> None:
    from jobs.views import csv_safe

    assert csv_safe("invoice\u202efdp.exe\x07\n") == "invoicefdp.exe"
    assert csv_safe("=HYPERLINK()") == "'=HYPERLINK()"
