"""How the file index's search finds files, and that its indexes answer it on both databases."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.urls import reverse

from admin_pages import text_search
from catalog import search, selectors
from catalog.models import IndexedFile
from organizations.models import Organization
from tests.fixtures.accounts import reach_all
from tests.fixtures.catalog import index_file

CHANGELIST = "admin:catalog_indexedfile_changelist"


def found(term: str) -> list[str]:
    files = search.matching(selectors.indexed_files(), term).order_by("-uploaded_at", "-id")
    return [row.file_name for row in files]


def indexed(organization: Organization, name: str, day: int, **fields: str) -> IndexedFile:
    return index_file(organization, name, uploaded_at=datetime(2026, 1, day, tzinfo=UTC), **fields)


@pytest.fixture
def files(organization: Organization) -> None:
    indexed(organization, "report.pdf", 1, uploader_email="Jane@Example.com")
    indexed(organization, "report.docx", 2, uploader_email="mary.jane@example.com")
    indexed(organization, "export_jane@example.com.csv", 3, uploader_email="sam@example.com")
    indexed(organization, "old report.PDF", 4, uploader_email="sam@example.com")


def searched_page(term: str, **filters: str) -> str:
    user, _ = User.objects.get_or_create(username="searcher", is_staff=True)
    reach_all(user)
    user.user_permissions.set(Permission.objects.filter(codename="view_indexedfile"))
    client = Client()
    client.force_login(user)
    response = client.get(reverse(CHANGELIST), {"q": term, **filters})
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def broad(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every search with more than two matches is treated as one of over 10,000."""
    monkeypatch.setattr(text_search, "pinned_limit", lambda alias: 2)


@pytest.mark.usefixtures("files")
def test_a_whole_email_finds_that_uploader_in_any_case_and_names_holding_it() -> None:
    assert found("jane@example.com") == ["export_jane@example.com.csv", "report.pdf"]
    assert found("JANE@EXAMPLE.COM") == ["export_jane@example.com.csv", "report.pdf"]


@pytest.mark.usefixtures("files")
def test_part_of_an_email_finds_every_uploader_holding_it() -> None:
    assert found("jane@") == ["export_jane@example.com.csv", "report.docx", "report.pdf"]


@pytest.mark.usefixtures("files")
def test_a_name_with_its_extension_finds_only_that_extension() -> None:
    assert found("report.pdf") == ["old report.PDF", "report.pdf"]
    assert found("report.docx") == ["report.docx"]


@pytest.mark.usefixtures("files")
def test_a_broad_search_finds_the_same_files_in_the_same_order(broad: None) -> None:
    assert search.find(selectors.indexed_files(), "report").broad
    assert found("report") == ["old report.PDF", "report.docx", "report.pdf"]
    assert found("report.pdf") == ["old report.PDF", "report.pdf"]


@pytest.mark.usefixtures("files")
def test_a_narrow_search_is_pinned_to_its_matches() -> None:
    result = search.find(selectors.indexed_files(), "report")
    assert not result.broad
    assert "IN (" in str(result.files.query)


@pytest.mark.usefixtures("files", "broad")
def test_a_broad_search_page_counts_no_further_and_offers_the_whole_index_dates(
    organization: Organization,
) -> None:
    indexed(organization, "unrelated.png", 9)
    index_file(organization, "older.png", uploaded_at=datetime(2019, 6, 1, tzinfo=UTC))
    page = searched_page("report")
    assert all(name in page for name in ("old report.PDF", "report.docx", "report.pdf"))
    assert "unrelated.png" not in page
    assert "More than 10,000 results" in page
    assert "uploaded_at__year=2019" in page  # the whole index's first year, not the search's


@pytest.mark.usefixtures("files")
def test_a_narrow_search_page_counts_its_files_and_offers_their_dates(
    organization: Organization,
) -> None:
    index_file(organization, "older.png", uploaded_at=datetime(2019, 6, 1, tzinfo=UTC))
    page = searched_page("report")
    assert "3 results" in page
    assert "uploaded_at__year=2019" not in page


# --- the plans: each part of a word answered by an index ---


def plan_of(term: str) -> str:
    return search.searched(selectors.indexed_files(), term).explain()


@pytest.fixture
def many(organization: Organization) -> None:
    IndexedFile.objects.bulk_create(
        IndexedFile(
            organization=organization,
            key=f"{n:032x}",
            asset_id=f"{n:032x}",
            file_name=f"scan_{n}.pdf",
            file_name_folded=f"scan_{n}.pdf",
            run_name=f"Run {n}",
            uploader_email=f"person{n}@example.com",
            attached_to="run",
            uploaded_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_indexedfile")
        if connection.vendor == "postgresql":
            # At this size reading the table is cheapest; with plain scans ruled out, the
            # plan shows whether indexes can answer every part of the search.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes")
@pytest.mark.usefixtures("many")
def test_a_whole_email_is_looked_up_by_the_email_index_on_postgresql() -> None:
    plan = plan_of("person42@example.com")
    assert "catalog_uploader_upper_idx" in plan
    assert "catalog_uploader_trgm" not in plan
    assert "Seq Scan" not in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes")
@pytest.mark.usefixtures("many")
def test_a_common_extension_is_not_asked_of_the_name_index_on_postgresql() -> None:
    plan = plan_of("scan_42.pdf")
    name_conditions = re.findall(r"Index Cond: (.*(?:file_name|run_name|template_name).*)", plan)
    assert len(name_conditions) == 3, plan
    assert all("42.%" in cond and "42.pdf" not in cond.lower() for cond in name_conditions)
    assert "Seq Scan" not in plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's full-text tables")
@pytest.mark.usefixtures("many")
def test_a_whole_email_is_looked_up_by_the_email_index_on_sqlite() -> None:
    plan = plan_of("person42@example.com")
    assert "catalog_uploader_nocase_idx" in plan, plan
    assert search.UPLOADERS_TEXT_TABLE not in plan
    assert not re.search(r"SCAN catalog_indexedfile\b", plan), plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's full-text tables")
@pytest.mark.usefixtures("many")
def test_a_file_id_and_a_name_are_answered_by_indexes_on_sqlite() -> None:
    plan = plan_of(f"{42:032x}")
    assert "catalog_asset_org_idx" in plan, plan
    assert not re.search(r"SCAN catalog_indexedfile\b", plan), plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's full-text tables")
@pytest.mark.usefixtures("many", "broad")
def test_a_broad_search_walks_the_date_index_on_sqlite() -> None:
    files = search.find(selectors.indexed_files(), "scan").files
    plan = files.order_by("-uploaded_at", "-id")[:50].explain()
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.usefixtures("files", "broad")
def test_a_broad_search_drilled_to_a_month_offers_only_that_months_days(
    organization: Organization,
) -> None:
    index_file(organization, "older.png", uploaded_at=datetime(2019, 6, 1, tzinfo=UTC))
    page = searched_page("report", uploaded_at__year="2026", uploaded_at__month="1")
    days = set(re.findall(r"uploaded_at__day=(\d+)", page))
    assert days == {"1", "2", "3", "4"}
    page = searched_page("report", uploaded_at__year="2026")
    assert set(re.findall(r"uploaded_at__month=(\d+)", page)) == {"1"}


def test_a_word_with_an_extension_matches_names_in_any_case_of_any_letter(
    organization: Organization,
) -> None:
    index_file(organization, "x.png", run_name="Übersicht.pdf")
    index_file(organization, "y.png", run_name="Übersicht.docx")
    assert found("übersicht.pdf") == ["x.png"]


@pytest.mark.usefixtures("files")
def test_a_file_without_an_upload_time_leaves_the_date_hierarchy_in_place(
    organization: Organization,
) -> None:
    index_file(organization, "undated.png", uploaded_at=None)
    page = searched_page("")
    assert "uploaded_at__day=1" in page  # January 2026's days: the dated files' range
