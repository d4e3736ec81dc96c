"""Organization access: a user of organization A cannot see, start, approve, pause, cancel or
download anything of organization B, by page, by URL, by filter or by search; a user with all
organizations, and a superuser, reach both."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import SignedInUserBackend
from accounts.signed_in import signed_in_answer
from catalog.models import IndexedFile, Scan
from catalog.scans import scan_start
from files.models import DeletionState, FileDeletion
from jobs.models import DeletionJob, JobState
from organizations.models import Organization, OrganizationAccess
from organizations.selectors import (
    REACHES_ALL,
    may_reach,
    organization_within_reach,
    organizations_for,
)
from tests.fixtures.accounts import reach_all, signed_in
from tests.fixtures.catalog import index_file
from tests.fixtures.jobs import new_job
from tests.fixtures.organizations import make_organization

ASSET_A = "a" * 32
ASSET_B = "b" * 32
EVERY_PERMISSION = [
    ("files", "lookup_file"),
    ("files", "delete_file"),
    ("files", "view_filedeletion"),
    ("jobs", "approve_deletionjob"),
    ("catalog", "view_indexedfile"),
    ("catalog", "view_scan"),
    ("catalog", "add_scan"),
    ("organizations", "view_organization"),
]


def staff_with_every_permission(username: str) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    for app_label, codename in EVERY_PERMISSION:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def access(user: User, *organizations: Organization) -> User:
    row, _ = OrganizationAccess.objects.get_or_create(user=user)
    row.organizations.set(organizations)
    return user


@pytest.fixture
def org_a(db: None) -> Organization:
    return make_organization(name="Alpha", org_id="org-alpha")


@pytest.fixture
def org_b(db: None) -> Organization:
    return make_organization(name="Bravo", org_id="org-bravo")


@pytest.fixture
def member_a(org_a: Organization) -> User:
    return access(staff_with_every_permission("member-a"), org_a)


@pytest.fixture
def creator() -> User:
    return reach_all(staff_with_every_permission("creator"))


@pytest.fixture
def rows(org_a: Organization, org_b: Organization, creator: User) -> dict[str, dict[str, object]]:
    """One of each per organization: a job, a scan, an indexed file, a deletion log row."""
    made: dict[str, dict[str, object]] = {}
    for key, org, asset in (("a", org_a, ASSET_A), ("b", org_b, ASSET_B)):
        made[key] = {
            "job": new_job(org, creator, [asset]),
            "scan": scan_start(organization=org, user=creator),
            "file": index_file(org, f"contract-{key}.pdf", template_name=f"Template {key}"),
            "deletion": FileDeletion.objects.create(
                organization=org,
                org_id=org.org_id,
                asset_id=asset,
                file_name=f"deleted-{key}.pdf",
                username="creator",
                reason="GDPR request",
                state=DeletionState.UNKNOWN,
            ),
        }
    return made


def page(client: Client, url: str, **params: str) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- the selector ---


def test_a_user_reaches_their_organizations_their_groups_and_a_superuser_all(
    org_a: Organization, org_b: Organization
) -> None:
    member = access(staff_with_every_permission("m"), org_a)
    assert list(organizations_for(member)) == [org_a]
    assert may_reach(member, org_a)
    assert not may_reach(member, org_b)

    group = Group.objects.create(name="Bravo team")
    OrganizationAccess.objects.create(group=group).organizations.set([org_b])
    member = User.objects.get(pk=member.pk)  # a new request's user
    member.groups.add(group)
    assert set(organizations_for(member)) == {org_a, org_b}

    superuser = User.objects.create_superuser("root", password="pw-for-tests-only")
    assert set(organizations_for(superuser)) == {org_a, org_b}
    everywhere = reach_all(staff_with_every_permission("everywhere"))
    assert set(organizations_for(everywhere)) == {org_a, org_b}


def test_a_new_user_reaches_no_organization_until_given_some(org_a: Organization) -> None:
    newcomer = staff_with_every_permission("newcomer")
    assert not organizations_for(newcomer).exists()
    inactive = reach_all(staff_with_every_permission("gone"))
    inactive.is_active = False
    assert not organizations_for(inactive).exists()


def test_all_organizations_of_a_group_reaches_organizations_added_later(
    org_a: Organization,
) -> None:
    group = Group.objects.create(name="Everyone")
    OrganizationAccess.objects.create(group=group, all_organizations=True)
    member = staff_with_every_permission("m")
    member.groups.add(group)
    later = make_organization(name="Later", org_id="org-later")
    assert set(organizations_for(member)) == {org_a, later}


def test_one_organization_is_reached_in_one_query_as_organizations_for_would(
    org_a: Organization, org_b: Organization
) -> None:
    """The file pages read their organization with the access rule in one query."""
    bravo_team = Group.objects.create(name="Bravo team")
    OrganizationAccess.objects.create(group=bravo_team).organizations.set([org_b])
    everyone = Group.objects.create(name="Everyone")
    OrganizationAccess.objects.create(group=everyone, all_organizations=True)
    in_bravo_team = access(staff_with_every_permission("in-bravo-team"))
    in_bravo_team.groups.add(bravo_team)
    in_everyone = staff_with_every_permission("in-everyone")
    in_everyone.groups.add(everyone)
    inactive = reach_all(staff_with_every_permission("gone"))
    inactive.is_active = False
    inactive.save()
    users = [
        access(staff_with_every_permission("member-of-a"), org_a),
        in_bravo_team,
        in_everyone,
        reach_all(staff_with_every_permission("everywhere")),
        staff_with_every_permission("newcomer"),
        inactive,
        User.objects.create_superuser("root", password="pw-for-tests-only"),
    ]
    for user in users:
        for organization in (org_a, org_b):
            reached = organization if may_reach(user, organization) else None
            fresh = User.objects.get(pk=user.pk)  # a new request's user
            with CaptureQueriesContext(connection) as queries:
                found = organization_within_reach(fresh, organization.pk)
            assert found == reached, (user.username, organization.name)
            assert len(queries) <= 1, (user.username, [q["sql"] for q in queries])
        # Whether they reach every organization, asked with a request's read of the user:
        signed_in_user = SignedInUserBackend().get_user(user.pk)
        if user.is_active:
            gives_all = OrganizationAccess.objects.filter(
                Q(user=user) | Q(group__user=user), all_organizations=True
            ).exists()
            assert signed_in_answer(signed_in_user, REACHES_ALL) is gives_all, user.username
            with CaptureQueriesContext(connection) as queries:
                listed = set(organizations_for(signed_in_user))
            assert listed == {o for o in (org_a, org_b) if may_reach(user, o)}, user.username
            # All of them, or which ones (then those, if any): no query for "all?" of its own.
            reads_all = user.is_superuser or gives_all
            assert len(queries) == (1 if reads_all or not listed else 2), user.username
    assert organization_within_reach(users[0], 10_000) is None


# --- lists, filters and searches ---

LISTS = {
    "admin:jobs_deletionjob_changelist": ("job", lambda job: f"Deletion job {job.pk}"),
    "admin:files_filedeletion_changelist": ("deletion", lambda row: row.file_name),
    "admin:catalog_indexedfile_changelist": ("file", lambda row: row.file_name),
}


@pytest.mark.parametrize("list_url", LISTS)
def test_each_list_shows_only_reachable_organizations_rows(
    rows: dict, member_a: User, creator: User, list_url: str
) -> None:
    key, text = LISTS[list_url]
    shown = page(signed_in(member_a), reverse(list_url))
    assert text(rows["a"][key]) in shown
    assert text(rows["b"][key]) not in shown
    everything = page(signed_in(creator), reverse(list_url))
    assert text(rows["a"][key]) in everything
    assert text(rows["b"][key]) in everything


def test_the_scan_and_organization_lists_show_only_reachable_organizations(
    rows: dict, member_a: User
) -> None:
    client = signed_in(member_a)
    scans = page(client, reverse("admin:catalog_scan_changelist"))
    assert f"/scan/{rows['a']['scan'].pk}/" in scans
    assert f"/scan/{rows['b']['scan'].pk}/" not in scans
    organizations = page(client, reverse("admin:organizations_organization_changelist"))
    assert "Alpha" in organizations
    assert "Bravo" not in organizations


@pytest.mark.parametrize(
    "list_url",
    [
        "admin:jobs_deletionjob_changelist",
        "admin:files_filedeletion_changelist",
        "admin:catalog_indexedfile_changelist",
        "admin:catalog_scan_changelist",
    ],
)
def test_the_organization_filter_offers_and_finds_only_reachable_organizations(
    rows: dict, member_a: User, org_b: Organization, list_url: str
) -> None:
    # Two reachable organizations, so that the filter is shown (one choice is not offered).
    charlie = make_organization(name="Charlie", org_id="org-charlie")
    member_a.organization_access.organizations.add(charlie)
    client = signed_in(member_a)
    shown = page(client, reverse(list_url))
    assert f"organization__id__exact={charlie.pk}" in shown
    assert "Alpha" in shown
    assert "Bravo" not in shown
    filtered = page(client, reverse(list_url), organization__id__exact=str(org_b.pk))
    for row in rows["b"].values():
        assert f"/{row.pk}/" not in filtered or isinstance(row, IndexedFile)
    assert "contract-b.pdf" not in filtered
    assert "deleted-b.pdf" not in filtered


def test_a_search_finds_nothing_of_another_organization(rows: dict, member_a: User) -> None:
    client = signed_in(member_a)
    index = page(client, reverse("admin:catalog_indexedfile_changelist"), q="contract-b")
    assert "contract-b.pdf" not in index
    log = page(client, reverse("admin:files_filedeletion_changelist"), q=ASSET_B)
    assert "deleted-b.pdf" not in log
    job_b = rows["b"]["job"]
    jobs = page(client, reverse("admin:jobs_deletionjob_changelist"), q=str(job_b.pk))
    assert f"Deletion job {job_b.pk}" not in jobs


def test_the_template_filter_names_only_reachable_organizations_templates(
    rows: dict, member_a: User
) -> None:
    shown = page(signed_in(member_a), reverse("admin:catalog_indexedfile_changelist"))
    assert "Template a" in shown
    assert "Template b" not in shown


# --- pages by URL ---


def test_another_organizations_pages_are_not_found(
    rows: dict, member_a: User, org_b: Organization
) -> None:
    client = signed_in(member_a)
    job_b = rows["b"]["job"]
    for url in [
        reverse("admin:files_detail", args=[org_b.pk, ASSET_B]),
        reverse("admin:files_download", args=[org_b.pk, ASSET_B]),
        reverse("admin:files_inline", args=[org_b.pk, ASSET_B]),
        reverse("admin:files_delete", args=[org_b.pk, ASSET_B]),
        reverse("admin:jobs_detail", args=[job_b.pk]),
        reverse("admin:jobs_progress", args=[job_b.pk]),
        reverse("admin:jobs_results", args=[job_b.pk]),
        f"{reverse('admin:catalog_scan_process_run')}?organization={org_b.pk}&run_id={'c' * 32}",
    ]:
        assert client.get(url).status_code == 404, url
    for url in [
        reverse("admin:files_filedeletion_change", args=[rows["b"]["deletion"].pk]),
        reverse("admin:catalog_scan_change", args=[rows["b"]["scan"].pk]),
        reverse("admin:organizations_organization_change", args=[org_b.pk]),
    ]:
        response = client.get(url)  # the admin's own answer: "does not exist", to the index
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")


def test_the_results_csv_of_a_reachable_job_downloads(rows: dict, member_a: User) -> None:
    response = signed_in(member_a).get(reverse("admin:jobs_results", args=[rows["a"]["job"].pk]))
    assert response.status_code == 200


# --- actions ---


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("jobs_approve", JobState.AWAITING_APPROVAL),
        ("jobs_pause", JobState.RUNNING),
        ("jobs_resume", JobState.PAUSED),
        ("jobs_cancel", JobState.RUNNING),
        ("jobs_retry", JobState.FINISHED_WITH_FAILURES),
        ("jobs_confirm", JobState.PREVIEWED),
    ],
)
def test_another_organizations_job_cannot_be_acted_on(
    rows: dict, member_a: User, action: str, state: JobState
) -> None:
    job_b = rows["b"]["job"]
    DeletionJob.objects.filter(pk=job_b.pk).update(state=state)
    response = signed_in(member_a).post(
        reverse(f"admin:{action}", args=[job_b.pk]), {"reason": "x", "typed_count": "1"}
    )
    assert response.status_code == 404
    assert DeletionJob.objects.get(pk=job_b.pk).state == state


def test_no_job_can_be_started_in_another_organization(
    rows: dict, member_a: User, org_b: Organization
) -> None:
    client = signed_in(member_a)
    before = DeletionJob.objects.count()
    form = page(client, reverse("admin:jobs_create"))
    assert "Alpha" in form
    assert "Bravo" not in form
    response = client.post(
        reverse("admin:jobs_create"), {"organization": org_b.pk, "files": ASSET_B}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert DeletionJob.objects.count() == before


def test_no_scan_can_be_started_or_cancelled_in_another_organization(
    rows: dict, member_a: User, org_b: Organization
) -> None:
    client = signed_in(member_a)
    Scan.objects.all().delete()
    scan_b = scan_start(organization=org_b)
    form = page(client, reverse("admin:catalog_scan_add"))
    assert "Alpha" in form
    assert "Bravo" not in form
    response = client.post(reverse("admin:catalog_scan_add"), {"organization": org_b.pk})
    assert "Select a valid choice" in response.content.decode()
    assert list(Scan.objects.all()) == [scan_b]
    cancelled = client.post(reverse("admin:catalog_scan_cancel", args=[scan_b.pk]))
    assert cancelled.status_code == 404
    scan_b.refresh_from_db()
    assert not scan_b.cancel_requested


def test_another_organizations_deletion_cannot_be_checked_nor_connection_tested(
    rows: dict, member_a: User, org_b: Organization
) -> None:
    client = signed_in(member_a)
    deletion_b = rows["b"]["deletion"]
    response = client.post(reverse("admin:files_deletion_check", args=[deletion_b.pk]))
    assert response.status_code == 404
    deletion_b.refresh_from_db()
    assert deletion_b.state == DeletionState.UNKNOWN
    assert deletion_b.attempts == 0
    test_connection = reverse("admin:organizations_organization_test_connection", args=[org_b.pk])
    assert client.post(test_connection).status_code == 404


def test_the_file_look_up_offers_and_accepts_only_reachable_organizations(
    rows: dict, member_a: User, org_b: Organization
) -> None:
    client = signed_in(member_a)
    form = page(client, reverse("admin:files_lookup"))
    assert "Alpha" in form
    assert "Bravo" not in form
    chosen = page(client, reverse("admin:files_lookup"), organization=str(org_b.pk), file=ASSET_B)
    assert "Select a valid choice" in chosen
    pasted_url = f"https://go.tallyfy.com/api/organizations/{org_b.org_id}/file/{ASSET_B}"
    pasted = page(client, reverse("admin:files_lookup"), file=pasted_url)
    assert "not configured here" in pasted
    assert "Bravo" not in pasted


def test_delete_files_acts_only_in_the_named_users_organizations(
    rows: dict, member_a: User, tmp_path: object
) -> None:
    ids = tmp_path / "ids.txt"  # type: ignore[operator]
    ids.write_text(f"{ASSET_B}\n")
    before = DeletionJob.objects.count()
    with pytest.raises(CommandError, match="among those member-a may reach"):
        call_command(
            "delete_files",
            "--organization",
            "Bravo",
            "--user",
            "member-a",
            "--reason",
            "GDPR",
            "--ids-file",
            str(ids),
        )
    assert DeletionJob.objects.count() == before


@pytest.mark.parametrize("named", ["Bravo", "org-bravo"])
def test_scan_files_for_a_user_scans_only_their_organizations(
    rows: dict, member_a: User, named: str
) -> None:
    before = Scan.objects.count()
    with pytest.raises(CommandError, match="among those member-a may reach"):
        call_command("scan_files", "--organization", named, "--user", "member-a")
    assert Scan.objects.count() == before


def test_scan_files_for_a_user_needs_the_permission_to_start_scans(org_a: Organization) -> None:
    viewer = access(User.objects.create_user("viewer", is_staff=True), org_a)
    with pytest.raises(CommandError, match="viewer may not start scans"):
        call_command("scan_files", "--organization", "Alpha", "--user", viewer.username)
    with pytest.raises(CommandError, match="No user is named 'nobody'"):
        call_command("scan_files", "--organization", "Alpha", "--user", "nobody")
    assert Scan.objects.count() == 0


def test_scan_files_for_a_user_is_recorded_as_theirs(org_a: Organization, member_a: User) -> None:
    call_command("scan_files", "--organization", "Alpha", "--user", "member-a", "--background")
    assert Scan.objects.get().started_by == member_a


def test_scan_files_without_a_user_is_the_operators_and_says_so(org_b: Organization) -> None:
    from catalog.management.commands.scan_files import Command

    assert "no organization access can bind them" in Command.help
    call_command("scan_files", "--organization", "Bravo", "--background")
    assert Scan.objects.get().started_by is None


# --- the admin: access is edited on the user's and the group's page ---


def test_access_is_edited_on_the_user_page_by_whoever_reaches_all(
    org_a: Organization, member_a: User
) -> None:
    root = User.objects.create_superuser("root", password="pw-for-tests-only")
    url = reverse("admin:auth_user_change", args=[member_a.pk])
    assert "All organizations" in page(signed_in(root), url)
    group_url = reverse("admin:auth_group_add")
    assert "All organizations" in page(signed_in(root), group_url)

    limited_admin = access(staff_with_every_permission("limited-admin"), org_a)
    limited_admin.user_permissions.add(*Permission.objects.filter(codename="change_user"))
    assert "All organizations" not in page(signed_in(limited_admin), url)


def test_a_group_made_in_the_admin_gives_its_members_its_organizations(
    org_a: Organization, org_b: Organization
) -> None:
    root = signed_in(User.objects.create_superuser("root", password="pw-for-tests-only"))
    response = root.post(
        reverse("admin:auth_group_add"),
        {
            "name": "Bravo team",
            "organization_access-TOTAL_FORMS": "1",
            "organization_access-INITIAL_FORMS": "0",
            "organization_access-MIN_NUM_FORMS": "0",
            "organization_access-MAX_NUM_FORMS": "1",
            "organization_access-0-organizations": [str(org_b.pk)],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    member = staff_with_every_permission("member")
    member.groups.add(Group.objects.get(name="Bravo team"))
    assert list(organizations_for(member)) == [org_b]


def test_the_logs_user_filter_names_only_people_of_reachable_rows(
    org_a: Organization, org_b: Organization, member_a: User, creator: User
) -> None:
    for org, who in ((org_a, creator), (org_b, staff_with_every_permission("bravo-only"))):
        FileDeletion.objects.create(
            organization=org,
            org_id=org.org_id,
            asset_id=f"{org.org_id}-file",
            file_name="x.pdf",
            user=who,
            username=who.username,
            reason="GDPR request",
            state=DeletionState.UNKNOWN,
        )
    url = reverse("admin:files_filedeletion_changelist")
    limited = page(signed_in(member_a), url)
    assert "?user__id__exact=" in limited
    assert ">creator<" in limited
    assert ">bravo-only<" not in limited
    assert ">bravo-only<" in page(signed_in(creator), url)
