from __future__ import annotations

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.backends.signals import connection_created


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from accounts.second_factor import password_sign_in_owes_second_factor
        from accounts.selectors import HAS_SECOND_FACTOR, second_factor_question
        from accounts.signed_in import signed_in_question_add
        from accounts.sqlite_files import keep_sqlite_files_private

        signed_in_question_add(HAS_SECOND_FACTOR, second_factor_question)
        user_logged_in.connect(
            password_sign_in_owes_second_factor, dispatch_uid="password_sign_in_owes_second_factor"
        )

        connection_created.connect(keep_sqlite_files_private, dispatch_uid="sqlite_files_private")
