"""The rate limit's settings (see app_settings for how each is read)."""

from __future__ import annotations

from app_settings import Setting, env


class ThrottlingSettings:
    # Requests a minute for an organization whose own rate is not set: half of the highest
    # limit Tallyfy documents (600 a minute per user); where its real limit is lower, 429s
    # slow it down.
    TALLYFY_DEFAULT_RATE_PER_MINUTE = Setting(env.int, 300)


conf = ThrottlingSettings()
