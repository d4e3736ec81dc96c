"""Sign-in's settings (see app_settings for how each is read). django-axes reads its own
(AXES_*), which the settings module fills from DJANGO_LOGIN_FAILURE_LIMIT and
DJANGO_LOGIN_COOLOFF_MINUTES; django-otp and django-otp-webauthn theirs (OTP_*)."""

from __future__ import annotations

from django.conf import settings

from app_settings import Setting, env


class AccountsSettings:
    # A session ends this long after sign-in, active or not (idle: SESSION_COOKIE_AGE).
    DJANGO_SESSION_ABSOLUTE_SECONDS = Setting(env.int, 12 * 60 * 60)
    # X-Forwarded-For is believed only as far as this many trusted proxies wrote it; otherwise
    # anyone could name a fresh address per attempt and never be locked out.
    DJANGO_PROXY_COUNT = Setting(env.int, 0)
    # Whether holders of TALLYFY_TWO_FACTOR_PERMISSIONS (and superusers) must sign in with a
    # second factor. Unset: on, unless DJANGO_DEBUG (so `make run`'s first sign-in works).
    TALLYFY_TWO_FACTOR_REQUIRED: Setting[bool | None] = Setting(env.bool, None)
    # The powers that need a second factor: deleting files and approving others' deletions.
    TALLYFY_TWO_FACTOR_PERMISSIONS = Setting(
        env.list, ["files.delete_file", "jobs.approve_deletionjob"]
    )
    # Dangerous actions (confirming a deletion or a job, approving one) ask for the second
    # factor again when the last one given is older than this.
    TALLYFY_SUDO_SECONDS = Setting(env.int, 15 * 60)

    @property
    def two_factor_required(self) -> bool:
        required = self.TALLYFY_TWO_FACTOR_REQUIRED
        return not settings.DEBUG if required is None else bool(required)


conf = AccountsSettings()
