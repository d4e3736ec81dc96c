"""What staff see and do in a real browser, against the live panel and the sandbox."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from files.models import DeletionState, FileDeletion
from organizations.models import Organization
from sandbox.seed import png_bytes
from tests.e2e.conftest import sign_in
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox


def look_up(page: Page, panel: str, text: str) -> None:
    page.goto(f"{panel}/admin/")
    page.click("text=Look up a file")
    page.fill("#id_file", text)
    page.click("input[value='Look up']")


def test_look_up_download_and_view(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    viewer: User,
    browser_problems: list[str],
) -> None:
    content = png_bytes(40, 30, (10, 200, 10))
    image = sandbox.add_file(filename="scan.png", content=content, content_type="image/png")
    sign_in(page, panel, viewer)
    look_up(page, panel, image.asset_id)
    expect(page.locator("#file-name")).to_have_text("scan.png")
    expect(page.locator("#file-subject")).to_contain_text("Run")
    with page.expect_download() as info:
        page.click("text=Download")
    download = info.value
    assert download.suggested_filename == "scan.png"
    with open(download.path(), "rb") as saved:
        assert saved.read() == content
    response = page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{image.asset_id}/view/")
    assert response is not None
    assert response.headers["content-type"] == "image/png"
    assert page.evaluate("document.images.length") == 1
    assert page.evaluate("document.images[0].naturalWidth") == 40


def test_pasted_url_resolves_to_the_same_file(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    viewer: User,
    browser_problems: list[str],
) -> None:
    asset = sandbox.add_file(filename="pasted.txt")
    sign_in(page, panel, viewer)
    look_up(
        page,
        panel,
        f"https://go.tallyfy.com/api/organizations/{sandbox.org_id}/file/{asset.asset_id}/dl",
    )
    expect(page.locator("#file-name")).to_have_text("pasted.txt")
    assert page.url.endswith(f"/{sandbox_org.pk}/{asset.asset_id}/")


def test_delete_with_confirmation(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    asset = sandbox.add_file(filename="leaked.pdf", content_type="application/pdf")
    sign_in(page, panel, deleter)
    look_up(page, panel, asset.asset_id)
    page.click("text=Delete…")
    expect(page.locator("#content")).to_contain_text("cannot be undone")

    expect(page.locator("label[for=id_confirmation]")).to_contain_text(
        'To confirm, type "leaked.pdf"'
    )
    button = page.locator("#delete-submit")
    expect(button).to_have_text("Delete leaked.pdf permanently")
    expect(button).to_be_disabled()
    page.fill("#id_reason", "GDPR-123")
    page.fill("#id_confirmation", "wrong.pdf")
    expect(button).to_be_disabled()
    assert sandbox.exists(asset.asset_id)

    page.fill("#id_reason", "")
    page.fill("#id_confirmation", "leaked.pdf")
    expect(button).to_be_enabled()
    button.click()
    expect(page.locator(".errorlist")).to_contain_text("This field is required")
    expect(page).to_have_title(re.compile("^Error: "))
    assert sandbox.exists(asset.asset_id)

    page.fill("#id_reason", "GDPR-123")
    # What the button looked like once submitted, kept in window.name across the navigation.
    page.evaluate(
        """() => {
            const button = document.querySelector("#delete-submit");
            button.form.addEventListener("submit", () => setTimeout(() => {
                window.name = JSON.stringify([button.textContent, button.disabled]);
            }));
        }"""
    )
    page.locator("#delete-submit").click()
    expect(page.locator(".messagelist")).to_contain_text("was deleted from Tallyfy")
    assert page.evaluate("JSON.parse(window.name)") == ["Deleting…", True]
    expect(page.locator(".messagelist")).to_contain_text("was deleted from Tallyfy")
    assert not sandbox.exists(asset.asset_id)
    deletion = FileDeletion.objects.get(asset_id=asset.asset_id)
    assert (deletion.state, deletion.username, deletion.reason) == (
        DeletionState.DELETED,
        "deleter",
        "GDPR-123",
    )
    expect(page.locator("#content")).to_contain_text("GDPR-123")


def test_errors_a_user_meets(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    sign_in(page, panel, deleter)
    look_up(page, panel, "9" * 32)
    expect(page.locator(".errorlist")).to_contain_text("does not exist or was deleted")
    expect(page.locator("#id_file")).to_have_value("9" * 32)

    asset = sandbox.add_file(filename="a.txt")
    sandbox.faults(unavailable_next=10)
    look_up(page, panel, asset.asset_id)
    expect(page.locator(".messagelist")).to_contain_text("Tallyfy is unavailable")
    sandbox.faults(unavailable_next=0)

    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    sandbox.faults(expired_tokens=True)
    page.fill("#id_reason", "ticket-9")
    page.fill("#id_confirmation", "a.txt")
    page.click("#delete-submit")
    expect(page.locator(".messagelist")).to_contain_text("may have expired")
    assert FileDeletion.objects.get(asset_id=asset.asset_id).state == DeletionState.FAILED
    assert sandbox.exists(asset.asset_id)
    sandbox.faults(expired_tokens=False)

    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    sandbox.faults(rate_limit_next=1, retry_after="1")
    page.fill("#id_reason", "ticket-9")
    page.fill("#id_confirmation", "a.txt")
    page.click("#delete-submit")
    expect(page.locator(".messagelist")).to_contain_text("was deleted from Tallyfy")
    states = list(
        FileDeletion.objects.filter(asset_id=asset.asset_id)
        .order_by("id")
        .values_list("state", flat=True)
    )
    assert states == [DeletionState.FAILED, DeletionState.DELETED]


def test_viewer_sees_no_delete_and_gets_403(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    viewer: User,
) -> None:
    asset = sandbox.add_file(filename="keep.txt")
    sign_in(page, panel, viewer)
    look_up(page, panel, asset.asset_id)
    expect(page.locator("#file-name")).to_have_text("keep.txt")
    expect(page.locator("text=Delete…")).to_have_count(0)
    response = page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    assert response is not None
    assert response.status == 403
    expect(page.locator("#site-name")).to_have_text("Tallyfy admin")
    expect(page.locator("text=Back to the admin home")).to_be_visible()
    assert sandbox.exists(asset.asset_id)


def test_admin_pages_raise_no_browser_errors(
    page: Page,
    panel: str,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    deleter.is_superuser = True
    deleter.save()
    sign_in(page, panel, deleter)
    for path in (
        "/admin/",
        "/admin/organizations/organization/",
        f"/admin/organizations/organization/{sandbox_org.pk}/change/",
        "/admin/organizations/organization/add/",
        "/admin/files/filedeletion/",
        "/admin/tallyfy-files/lookup/",
        "/admin/auth/user/",
        "/admin/auth/group/add/",
    ):
        response = page.goto(f"{panel}{path}")
        assert response is not None
        assert response.status == 200, path
    page.goto(f"{panel}/admin/organizations/organization/")
    page.check("input.action-select")
    page.select_option("select[name=action]", "test_connection")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("The token works")


def test_a_double_submit_deletes_once(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    asset = sandbox.add_file(filename="twice.pdf", content_type="application/pdf")
    sign_in(page, panel, deleter)
    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    page.fill("#id_reason", "INC-7")
    page.fill("#id_confirmation", "twice.pdf")
    sandbox.faults(latency_ms=200)  # the first is still in flight when the second arrives
    answers = page.evaluate(
        """async () => {
            const form = document.querySelector("#id_reason").form;
            const send = () => fetch(location.href, {method: "POST", body: new FormData(form)});
            const answers = await Promise.all([send(), send()]);
            return Promise.all(answers.map(async (a) => [a.url, await a.text()]));
        }"""
    )
    deletion = FileDeletion.objects.get(asset_id=asset.asset_id)
    assert deletion.state == DeletionState.DELETED
    assert [r["method"] for r in sandbox.requests()].count("DELETE") == 1
    # The first lands on its row; the second on that row too, or on the file's rows in the log
    # when it arrived before the first had written its row, saying it was already submitted.
    row, rows = f"/filedeletion/{deletion.pk}/change/", f"/filedeletion/?q={asset.asset_id}"
    landed = [url for url, _ in answers]
    assert any(url.endswith(row) for url in landed), landed
    assert all(url.endswith((row, rows)) for url in landed), landed
    assert sum("already submitted" in text for _, text in answers) == 1


def test_the_confirm_page_works_without_javascript(
    browser: Browser,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
) -> None:
    asset = sandbox.add_file(filename="nojs.pdf", content_type="application/pdf")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, panel, deleter)
    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    page.fill("#id_reason", "GDPR-9")
    page.fill("#id_confirmation", "other.pdf")
    page.click("#delete-submit")  # enabled: only the script disables it
    expect(page.locator(".errorlist")).to_contain_text("Type the file name (nojs.pdf)")
    assert sandbox.exists(asset.asset_id)
    page.fill("#id_confirmation", "nojs.pdf")
    page.click("#delete-submit")
    expect(page.locator(".messagelist")).to_contain_text("nojs.pdf was deleted from Tallyfy.")
    assert not sandbox.exists(asset.asset_id)
    context.close()


def test_try_again_after_a_failed_deletion_keeps_the_reason(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    asset = sandbox.add_file(filename="retry.txt")
    sign_in(page, panel, deleter)
    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    sandbox.faults(expired_tokens=True)
    page.fill("#id_reason", "INC-42 leaked key")
    page.fill("#id_confirmation", "retry.txt")
    page.click("#delete-submit")
    expect(page.locator("#deletion-next")).to_contain_text("Nothing was deleted")
    sandbox.faults(expired_tokens=False)
    page.click("#try-again")
    expect(page.locator("#id_reason")).to_have_value("INC-42 leaked key")
    page.fill("#id_confirmation", "retry.txt")
    page.click("#delete-submit")
    expect(page.locator(".messagelist")).to_contain_text("retry.txt was deleted from Tallyfy.")
    page.goto(f"{panel}/admin/")
    expect(page.locator("#recent-actions-module")).to_contain_text("retry.txt (Deleted)")


def test_check_again_now_settles_an_unknown_deletion(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    row = FileDeletion.objects.create(
        organization=sandbox_org,
        org_id=sandbox_org.org_id,
        asset_id="g" * 32,  # not in the sandbox: Tallyfy answers 404
        file_name="gone.pdf",
        user=deleter,
        username=deleter.username,
        reason="GDPR-1",
        state=DeletionState.UNKNOWN,
    )
    sign_in(page, panel, deleter)
    page.goto(f"{panel}/admin/files/filedeletion/{row.pk}/change/")
    expect(page.locator("#deletion-next")).to_contain_text(
        "We could not tell whether it was deleted"
    )
    page.click("#check-now")
    expect(page.locator(".messagelist")).to_contain_text("Checked now: gone.pdf is gone")
    expect(page.locator("#deletion-next")).to_have_count(0)
    row.refresh_from_db()
    assert row.state == DeletionState.DELETED


def test_test_connection_from_the_organization_page(
    page: Page,
    panel: str,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    deleter.is_superuser = True
    deleter.save()
    sign_in(page, panel, deleter)
    page.goto(f"{panel}/admin/organizations/organization/{sandbox_org.pk}/change/")
    expect(page.locator(".field-last_connected_at .readonly")).to_have_text("-")
    page.click("#test-connection")
    expect(page.locator(".messagelist")).to_contain_text("Sandbox: The token works")
    expect(page.locator(".field-last_connected_at .readonly")).not_to_have_text("-")
    expect(page.locator(".field-token_hint .readonly")).to_have_text(
        f"set, ending …{sandbox_org.token_last4}"
    )


def test_a_pasted_url_picks_its_organization_and_a_run_url_is_named(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    viewer: User,
    browser_problems: list[str],
) -> None:
    make_organization(org_id="another-org", name="Another", base_url=sandbox.base_url)
    asset = sandbox.add_file(filename="picked.txt")
    sign_in(page, panel, viewer)
    page.goto(f"{panel}/admin/tallyfy-files/lookup/")
    expect(page.locator("#id_file")).to_be_focused()
    page.fill("#id_file", f"{sandbox.base_url}/organizations/{sandbox.org_id}/runs/{'r' * 32}")
    page.click("input[value='Look up']")
    expect(page.locator(".errorlist")).to_contain_text("This is the URL of a process run")
    page.fill(
        "#id_file", f"{sandbox.base_url}/organizations/{sandbox.org_id}/file/{asset.asset_id}"
    )
    page.click("input[value='Look up']")
    expect(page.locator("#file-name")).to_have_text("picked.txt")
    page.goto(f"{panel}/admin/tallyfy-files/lookup/")
    expect(page.locator("#id_organization")).to_have_value(str(sandbox_org.pk))


def test_detail_shows_type_size_and_a_thumbnail_and_views_only_inline_types(
    page: Page,
    panel: str,
    sandbox: Sandbox,
    sandbox_org: Organization,
    viewer: User,
    browser_problems: list[str],
) -> None:
    image = sandbox.add_file(
        filename="photo.png", content=png_bytes(64, 48, (200, 30, 30)), content_type="image/png"
    )
    table = sandbox.add_file(filename="table.csv", content=b"a,b\n1,2\n", content_type="text/csv")
    sign_in(page, panel, viewer)
    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{image.asset_id}/")
    expect(page.locator("#file-type")).to_have_text("image/png")
    expect(page.locator(".file-thumbnail img")).to_be_visible()
    assert page.evaluate("document.querySelector('.file-thumbnail img').naturalWidth") == 64
    expect(page.locator(".file-actions >> text=View")).to_have_count(1)
    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{table.asset_id}/")
    expect(page.locator("#file-size")).to_have_text("8\xa0bytes")
    expect(page.locator(".file-actions >> text=View")).to_have_count(0)
    expect(page.locator(".file-actions >> text=Download")).to_have_count(1)


def test_the_log_fits_1280_pixels_and_shows_states_as_badges(
    page: Page,
    panel: str,
    sandbox_org: Organization,
    deleter: User,
    browser_problems: list[str],
) -> None:
    FileDeletion.objects.create(
        organization=sandbox_org,
        org_id=sandbox_org.org_id,
        asset_id="f" * 32,
        file_name="a-rather-long-file-name-for-a-scanned-passport-2024.pdf",
        user=deleter,
        username="someone.with.a.long.name@example.com",
        reason="GDPR-2024-0117: erase the customer's scanned passport and the copy in the ticket",
        state=DeletionState.FAILED,
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, panel, deleter)
    page.goto(f"{panel}/admin/files/filedeletion/")
    expect(page.locator(".state-badge")).to_have_text("Failed")
    expect(page.locator("abbr.short-id")).to_have_attribute("title", "f" * 32)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    results = page.locator(".results")
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert page.locator("td.field-reason_short").evaluate(
        "e => e.getBoundingClientRect().right"
    ) <= page.locator("#changelist-filter").evaluate("e => e.getBoundingClientRect().left")
    expect(page.locator("#nav-sidebar")).to_contain_text("Look up a file")
