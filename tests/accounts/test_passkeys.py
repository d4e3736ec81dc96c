from __future__ import annotations

from typing import Any

from django.test import RequestFactory

from accounts.passkeys import PasskeyHelper, relying_party_id


def request_to(host: str) -> Any:
    return RequestFactory().get("/admin/", HTTP_HOST=host)


def test_passkeys_belong_to_the_host_the_page_was_served_from(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["files-admin.example.com", "localhost"]
    settings.OTP_WEBAUTHN_RP_ID = ""
    assert relying_party_id(request_to("files-admin.example.com")) == "files-admin.example.com"
    assert relying_party_id(request_to("localhost:8000")) == "localhost"
    settings.OTP_WEBAUTHN_RP_ID = "example.com"
    assert relying_party_id(request_to("files-admin.example.com")) == "example.com"


def test_only_listed_origins_are_accepted_in_production(settings: Any) -> None:
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://files-admin.example.com"]
    helper = PasskeyHelper(request=request_to("localhost:8000"))
    assert helper.get_allowed_origins() == ["https://files-admin.example.com"]


def test_in_development_the_pages_own_origin_is_accepted(settings: Any) -> None:
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://localhost"]
    helper = PasskeyHelper(request=request_to("localhost:8000"))
    assert helper.get_allowed_origins() == ["https://localhost", "http://localhost:8000"]
