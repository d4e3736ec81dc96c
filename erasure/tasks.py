"""Entry points of background work (settings.BACKGROUND_SWEEPS): our tables say what is left
to do, so a sweep run twice does no harm."""

from __future__ import annotations

from erasure.discovery import discoveries_resume
from erasure.following import erasure_requests_follow

__all__ = ["discoveries_resume", "erasure_requests_follow"]
