from __future__ import annotations

import threading

import django_otp
import pytest
from django.contrib.auth.models import User
from django.db import connection

from tests.accounts.conftest import add_app, add_recovery_codes, totp_code


def verify_at_once(user: User, device_id: str, code: str, tries: int = 4) -> list[bool]:
    barrier = threading.Barrier(tries)
    results: list[bool] = []

    def attempt() -> None:
        try:
            barrier.wait()
            results.append(django_otp.verify_token(user, device_id, code) is not None)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_one_app_code_sent_four_times_at_once_is_accepted_once(deleter: User) -> None:
    device = add_app(deleter)
    results = verify_at_once(deleter, device.persistent_id, totp_code(device))
    assert sorted(results) == [False, False, False, True]


@pytest.mark.django_db(transaction=True)
def test_one_recovery_code_sent_four_times_at_once_is_accepted_once(deleter: User) -> None:
    device = add_recovery_codes(deleter, "abcdefgh")
    results = verify_at_once(deleter, device.persistent_id, "abcdefgh")
    assert sorted(results) == [False, False, False, True]
