from __future__ import annotations

import pytest

from tallyfy_api.ids import FileReference, InvalidId, parse_file_reference

ORG = "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d"
ASSET = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ASSET, FileReference(ASSET)),
        (f"  {ASSET}\n", FileReference(ASSET)),
        (
            f"https://go.tallyfy.com/api/organizations/{ORG}/file/{ASSET}/dl",
            FileReference(ASSET, ORG),
        ),
        (f"https://api.tallyfy.com/organizations/{ORG}/file/{ASSET}", FileReference(ASSET, ORG)),
        (f"organizations/{ORG}/file/{ASSET}/dl", FileReference(ASSET, ORG)),
        (
            f"https://go.tallyfy.com/api/organizations/{ORG}/file/{ASSET}/dl/?x=1#y",
            FileReference(ASSET, ORG),
        ),
        (
            f"https://go.tallyfy.com/api/organizations/{ORG}/assets/{ASSET}",
            FileReference(ASSET, ORG),
        ),
    ],
)
def test_ids_and_file_urls_are_understood(text: str, expected: FileReference) -> None:
    assert parse_file_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a b",
        "x" * 256,
        "https://go.tallyfy.com/api/organizations/ORG/file/../../secret",
        "https://go.tallyfy.com/api/organizations/ORG/file/a%2Fb/dl",
        "https://example.com/some/page",
        f"https://go.tallyfy.com/api/organizations/{ORG}/runs/{ASSET}",
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidId) as caught:
        parse_file_reference(text)
    assert str(caught.value)
