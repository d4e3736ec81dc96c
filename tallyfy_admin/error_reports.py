"""Error reports that leave sensitive values out even on the DEBUG page."""

from __future__ import annotations

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django hides `sensitive_post_parameters` and `sensitive_variables` only when DEBUG is
    off; a development error page is shared, screenshotted and pasted into tickets too."""

    def is_active(self, request: HttpRequest | None) -> bool:
        return True
