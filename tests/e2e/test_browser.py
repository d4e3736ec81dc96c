"""What staff see and do in a real browser, against the live panel and the sandbox."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from files.models import DeletionState, FileDeletion, Organization
from sandbox.seed import png_bytes
from tests.e2e.conftest import sign_in
from tests.sandbox_fixtures import Sandbox


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

    page.fill("#id_reason", "GDPR-123")
    page.fill("#id_confirmation", "wrong.pdf")
    page.click("input[value='Yes, delete it permanently']")
    expect(page.locator(".errorlist")).to_contain_text("Type the file name (leaked.pdf)")
    assert sandbox.exists(asset.asset_id)

    page.fill("#id_reason", "")
    page.fill("#id_confirmation", "leaked.pdf")
    page.click("input[value='Yes, delete it permanently']")
    expect(page.locator(".errorlist")).to_contain_text("This field is required")
    assert sandbox.exists(asset.asset_id)

    page.fill("#id_reason", "GDPR-123")
    page.fill("#id_confirmation", "leaked.pdf")
    page.click("input[value='Yes, delete it permanently']")
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
    expect(page.locator(".messagelist")).to_contain_text("does not exist or was deleted")

    asset = sandbox.add_file(filename="a.txt")
    sandbox.faults(unavailable_next=10)
    look_up(page, panel, asset.asset_id)
    expect(page.locator(".messagelist")).to_contain_text("Tallyfy is unavailable")
    sandbox.faults(unavailable_next=0)

    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    sandbox.faults(expired_tokens=True)
    page.fill("#id_reason", "ticket-9")
    page.fill("#id_confirmation", "a.txt")
    page.click("input[value='Yes, delete it permanently']")
    expect(page.locator(".messagelist")).to_contain_text("may have expired")
    assert FileDeletion.objects.get(asset_id=asset.asset_id).state == DeletionState.FAILED
    assert sandbox.exists(asset.asset_id)
    sandbox.faults(expired_tokens=False)

    page.goto(f"{panel}/admin/tallyfy-files/{sandbox_org.pk}/{asset.asset_id}/delete/")
    sandbox.faults(rate_limit_next=1, retry_after="1")
    page.fill("#id_reason", "ticket-9")
    page.fill("#id_confirmation", "a.txt")
    page.click("input[value='Yes, delete it permanently']")
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
        "/admin/files/organization/",
        f"/admin/files/organization/{sandbox_org.pk}/change/",
        "/admin/files/organization/add/",
        "/admin/files/filedeletion/",
        "/admin/tallyfy-files/lookup/",
        "/admin/auth/user/",
        "/admin/auth/group/add/",
    ):
        response = page.goto(f"{panel}{path}")
        assert response is not None
        assert response.status == 200, path
    page.goto(f"{panel}/admin/files/organization/")
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
