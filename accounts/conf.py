"""Sign-in's settings (see app_settings for how each is read). django-axes reads its own
(AXES_*), which the settings module fills from DJANGO_LOGIN_FAILURE_LIMIT and
DJANGO_LOGIN_COOLOFF_MINUTES."""

from __future__ import annotations

from app_settings import Setting, env


class AccountsSettings:
    # A session ends this long after sign-in, active or not (idle: SESSION_COOKIE_AGE).
    DJANGO_SESSION_ABSOLUTE_SECONDS = Setting(env.int, 12 * 60 * 60)
    # X-Forwarded-For is believed only as far as this many trusted proxies wrote it; otherwise
    # anyone could name a fresh address per attempt and never be locked out.
    DJANGO_PROXY_COUNT = Setting(env.int, 0)


conf = AccountsSettings()
