from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse

from admin_pages import text_search
from files import log_search, services
from files.models import DeletionState, FileDeletion
from organizations.models import Organization


def make_row(org: Organization, user: User, **fields: object) -> FileDeletion:
    values: dict[str, object] = {
        "organization": org,
        "org_id": org.org_id,
        "asset_id": "a" * 32,
        "user": user,
        "username": user.username,
        "reason": "GDPR-1",
        "state": DeletionState.DELETED,
        "file_name": "report.pdf",
    }
    values.update(fields)
    return FileDeletion.objects.create(**values)


def test_log_is_read_only_even_for_superusers(
    admin_client: Client, admin_user: User, organization: Organization
) -> None:
    row = make_row(organization, admin_user)
    assert admin_client.get(reverse("admin:files_filedeletion_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:files_filedeletion_delete", args=[row.pk])).status_code
        == 403
    )
    change = admin_client.post(
        reverse("admin:files_filedeletion_change", args=[row.pk]), {"reason": "edited"}
    )
    assert change.status_code == 403
    row.refresh_from_db()
    assert row.reason == "GDPR-1"
    listing = admin_client.get(reverse("admin:files_filedeletion_changelist"))
    assert "delete_selected" not in listing.content.decode()


def test_detail_page_shows_the_snapshot(
    admin_client: Client, admin_user: User, organization: Organization
) -> None:
    row = make_row(organization, admin_user, metadata={"id": "a" * 32, "extra": "kept"})
    body = admin_client.get(
        reverse("admin:files_filedeletion_change", args=[row.pk])
    ).content.decode()
    assert "report.pdf" in body
    assert "&quot;extra&quot;: &quot;kept&quot;" in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state__exact": "failed"}, {"failed.pdf"}),
        ({"q": "b" * 32}, {"failed.pdf"}),
        ({"q": "ledger"}, {"ledger.xlsx"}),
        ({"q": "INC-77"}, {"ledger.xlsx"}),
        ({"q": "admin"}, {"report.pdf", "failed.pdf", "ledger.xlsx"}),
        ({"q": "LEDG"}, {"ledger.xlsx"}),
        ({"q": "ADMIN"}, {"report.pdf", "failed.pdf", "ledger.xlsx"}),
        ({"q": "ledger inc-77"}, {"ledger.xlsx"}),
        ({"q": "ledger report"}, set()),
        ({"q": "xl"}, {"ledger.xlsx"}),
        ({"q": '"t.pdf"'}, {"report.pdf"}),
        ({"q": "%"}, set()),
        ({"q": 'led"ger'}, set()),
        ({"q": "ledg*"}, set()),
    ],
)
def test_filters_and_search(
    admin_client: Client,
    admin_user: User,
    organization: Organization,
    query: dict[str, str],
    expected: set[str],
) -> None:
    make_row(organization, admin_user)
    make_row(
        organization,
        admin_user,
        asset_id="b" * 32,
        file_name="failed.pdf",
        state=DeletionState.FAILED,
    )
    make_row(organization, admin_user, asset_id="c" * 32, file_name="ledger.xlsx", reason="INC-77")
    response = admin_client.get(reverse("admin:files_filedeletion_changelist"), query)
    shown = {row.file_name for row in response.context["cl"].result_list}
    assert shown == expected


def test_settled_rows_are_never_edited(organization: Organization, admin_user: User) -> None:
    row = make_row(organization, admin_user, state=DeletionState.FAILED)
    services.deletion_reconcile(deletion=row)
    outcome = services.DeletionOutcome(DeletionState.DELETED, "x")
    services.deletion_settle(deletion=row, attempts=9, result=outcome)
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeletionState.FAILED, 0)


def test_an_organization_with_deletions_cannot_be_deleted(
    admin_client: Client, admin_user: User, organization: Organization
) -> None:
    make_row(organization, admin_user)
    admin_client.post(
        reverse("admin:organizations_organization_delete", args=[organization.pk]), {"post": "yes"}
    )
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_listing_never_counts_past_the_cap(
    admin_client: Client,
    admin_user: User,
    organization: Organization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from admin_pages.pagination import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 3)
    for n in range(5):
        make_row(organization, admin_user, asset_id=f"{n:032x}")
    response = admin_client.get(reverse("admin:files_filedeletion_changelist"))
    assert "More than 3 file deletions" in response.content.decode()
    filtered = admin_client.get(
        reverse("admin:files_filedeletion_changelist"), {"state__exact": "deleted"}
    )
    assert "More than 3 results" in filtered.content.decode()
    assert response.context["cl"].result_count == 4


def test_times_are_shown_to_the_second_with_their_zone(
    admin_client: Client, admin_user: User, organization: Organization
) -> None:
    from datetime import UTC, datetime

    row = make_row(organization, admin_user, started_at=datetime(2026, 3, 5, 14, 7, 9, tzinfo=UTC))
    body = admin_client.get(
        reverse("admin:files_filedeletion_change", args=[row.pk])
    ).content.decode()
    assert "2026-03-05 14:07:09 UTC" in body


def only_indexes_can_answer(organization: Organization) -> None:
    """5,000 rows, and PostgreSQL's plain scans ruled out: at this size reading the whole table
    is cheapest (at a million rows it is not), so the plan shows whether indexes can answer."""
    FileDeletion.objects.bulk_create(
        FileDeletion(
            organization=organization,
            org_id=organization.org_id,
            asset_id=f"{n:032x}",
            username="staff",
            reason=f"GDPR-{n}",
            file_name=f"file-{n}.pdf",
        )
        for n in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE files_filedeletion")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
@pytest.mark.parametrize(
    ("term", "index"),
    [("file-1234.pdf", "deletion_file_name_trgm"), ("GDPR-1234", "deletion_reason_trgm")],
)
def test_free_text_search_is_answered_by_indexes_on_postgresql(
    rf: RequestFactory, admin_user: User, organization: Organization, term: str, index: str
) -> None:
    only_indexes_can_answer(organization)
    request = rf.get(reverse("admin:files_filedeletion_changelist"), {"q": term})
    request.user = admin_user
    log_admin = admin.site.get_model_admin(FileDeletion)
    found = log_search.searched(log_admin.get_queryset(request), term)
    plan = found.explain()
    assert "Seq Scan" not in plan
    assert index in plan
    assert [row.file_name for row in found] == ["file-1234.pdf"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's full-text table")
def test_free_text_search_is_answered_by_indexes_on_sqlite(
    rf: RequestFactory, admin_user: User, organization: Organization
) -> None:
    make_row(organization, admin_user, file_name="Quarterly Ledger.xlsx", reason="INC-77")
    request = rf.get(reverse("admin:files_filedeletion_changelist"), {"q": "ledger"})
    request.user = admin_user
    log_admin = admin.site.get_model_admin(FileDeletion)
    found = log_search.searched(log_admin.get_queryset(request), "ledger")
    plan = found.explain()
    assert "VIRTUAL TABLE" in plan
    assert not re.search(r"SCAN files_filedeletion\b", plan), plan
    assert [row.file_name for row in found] == ["Quarterly Ledger.xlsx"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's full-text table")
def test_search_reads_the_log_where_sqlite_has_no_text_table(
    admin_user: User, organization: Organization
) -> None:
    make_row(organization, admin_user, file_name="Quarterly Ledger.xlsx", reason="INC-77")
    with connection.cursor() as cursor:  # as on a SQLite without the trigram tokenizer
        cursor.execute(f"DROP TABLE {log_search.SQLITE_TEXT_TABLE}")
    found = log_search.searched(FileDeletion.objects.all(), "ledger inc-77")
    assert "VIRTUAL TABLE" not in found.explain()
    assert [row.file_name for row in found] == ["Quarterly Ledger.xlsx"]


def test_a_search_with_an_extension_finds_only_that_extension(
    admin_user: User, organization: Organization
) -> None:
    for n, name in enumerate(["Q3 report.pdf", "Q3 report.docx", "notes.PDF"]):
        make_row(organization, admin_user, asset_id=f"{n:032x}", file_name=name, reason="audit")
    found = log_search.matching(FileDeletion.objects.all(), "report.pdf")
    assert [row.file_name for row in found] == ["Q3 report.pdf"]
    found = log_search.matching(FileDeletion.objects.all(), "audit report.DOCX")
    assert [row.file_name for row in found] == ["Q3 report.docx"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
def test_a_common_extension_is_not_asked_of_the_name_index_on_postgresql(
    organization: Organization,
) -> None:
    only_indexes_can_answer(organization)
    found = log_search.searched(FileDeletion.objects.all(), "file-1234.pdf")
    plan = found.explain()
    name_conditions = re.findall(r"Index Cond: (.*upper\(\(file_name\).*)", plan)
    assert name_conditions, plan
    assert all("1234.%" in cond and "PDF" not in cond for cond in name_conditions), plan
    assert [row.file_name for row in found] == ["file-1234.pdf"]


def test_a_search_matching_few_rows_is_asked_once_then_pinned(
    admin_user: User, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        make_row(organization, admin_user, asset_id=f"{n:032x}", file_name=f"ledger {n}.xlsx")
    few = log_search.matching(FileDeletion.objects.all(), "ledger")
    assert "ledger" not in str(few.query).lower()  # by primary key
    assert sorted(row.file_name for row in few) == [
        "ledger 0.xlsx",
        "ledger 1.xlsx",
        "ledger 2.xlsx",
    ]
    monkeypatch.setattr(text_search, "pinned_limit", lambda alias: 2)
    many = log_search.matching(FileDeletion.objects.all(), "ledger")
    assert "ledger" in str(many.query).lower()  # left to the database
    assert sorted(row.file_name for row in many) == sorted(row.file_name for row in few)


def test_a_word_with_an_extension_matches_in_any_case_of_any_letter(
    admin_user: User, organization: Organization
) -> None:
    make_row(organization, admin_user, file_name="Überblick.pdf")
    make_row(organization, admin_user, asset_id="b" * 32, file_name="Überblick.docx")
    found = log_search.matching(FileDeletion.objects.all(), "überblick.pdf")
    assert [row.file_name for row in found] == ["Überblick.pdf"]
