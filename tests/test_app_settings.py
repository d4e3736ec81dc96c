"""An app's setting: the Django setting of its name wins, then its environment variable, then
the default written beside the code that uses it."""

from __future__ import annotations

import pytest

from app_settings import Setting, env


class Declared:
    EXAMPLE_SECONDS = Setting(env.int, 30)
    EXAMPLE_HOSTS = Setting(env.list, ["a.example"])


def test_the_default_when_neither_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAMPLE_SECONDS", raising=False)
    assert Declared().EXAMPLE_SECONDS == 30


def test_the_environment_variable_of_the_same_name_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXAMPLE_SECONDS", "45")
    monkeypatch.setenv("EXAMPLE_HOSTS", "b.example,c.example")
    assert Declared().EXAMPLE_SECONDS == 45
    assert Declared().EXAMPLE_HOSTS == ["b.example", "c.example"]


def test_a_django_setting_of_the_same_name_wins(
    monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    monkeypatch.setenv("EXAMPLE_SECONDS", "45")
    settings.EXAMPLE_SECONDS = 5  # type: ignore[attr-defined]
    assert Declared().EXAMPLE_SECONDS == 5


def test_each_use_reads_afresh(settings: object) -> None:
    declared = Declared()
    settings.EXAMPLE_SECONDS = 1  # type: ignore[attr-defined]
    assert declared.EXAMPLE_SECONDS == 1
    settings.EXAMPLE_SECONDS = 2  # type: ignore[attr-defined]
    assert declared.EXAMPLE_SECONDS == 2
