"""Independent clients work against the sandbox unmodified."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tallyfy import TallyfyError, TallyfySDK

from tests.fixtures.sandbox import Sandbox

pytestmark = pytest.mark.over_the_wire

SEED_PAGE = Path(__file__).resolve().parents[3] / "shared" / "seed" / "tallyfy-delete-file.txt"
SEED_SAMPLE = Path(__file__).with_name("seed_delete_sample.js")


def seed_sample() -> str:
    """The seed page's JavaScript sample, from the page itself when it is at hand."""
    if SEED_PAGE.exists():
        text = SEED_PAGE.read_text()
        return text[text.index("const accessToken") : text.index("Response\n")].strip()
    return SEED_SAMPLE.read_text()


def test_committed_sample_is_the_seed_pages(sandbox: Sandbox) -> None:
    if not SEED_PAGE.exists():
        pytest.skip("the seed page is not beside this checkout")
    assert seed_sample() == SEED_SAMPLE.read_text().strip()


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_seed_pages_fetch_sample_deletes_a_file(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    script = (
        seed_sample()
        .replace("YOUR_PERSONAL_ACCESS_TOKEN", sandbox.token)
        .replace("YOUR_ORGANIZATION_ID", sandbox.org_id)
        .replace("ASSET_ID_TO_DELETE", asset.asset_id)
        .replace("https://go.tallyfy.com/api", sandbox.base_url)
    )
    result = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert re.search(rf"Deleted file {asset.asset_id}\. Status: 200", result.stdout), result.stderr
    assert not sandbox.exists(asset.asset_id)


def test_official_sdk_downloads_a_file(sandbox: Sandbox) -> None:
    asset = sandbox.add_file(
        filename="Rapport été.pdf", content=b"%PDF-1.4 sdk", content_type="application/pdf"
    )
    sdk = TallyfySDK(api_key=sandbox.token, base_url=sandbox.base_url)
    assert sdk.download_file(sandbox.org_id, asset.asset_id) == b"%PDF-1.4 sdk"


def test_official_sdk_sees_a_deleted_file_as_404(sandbox: Sandbox) -> None:
    asset = sandbox.add_file()
    sandbox.server.store.delete_asset(org_id=sandbox.org_id, asset_id=asset.asset_id)
    sdk = TallyfySDK(api_key=sandbox.token, base_url=sandbox.base_url)
    with pytest.raises(TallyfyError) as caught:
        sdk.download_file(sandbox.org_id, asset.asset_id)
    assert caught.value.status_code == 404
