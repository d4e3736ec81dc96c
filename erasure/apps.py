from __future__ import annotations

from django.apps import AppConfig


class ErasureConfig(AppConfig):
    name = "erasure"
    verbose_name = "Erasure requests"
    default_auto_field = "django.db.models.BigAutoField"
