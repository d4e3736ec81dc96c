"""A setting an app declares, with its default, in the app's `conf.py`.

Each setting is named as its environment variable is. It is read, at each use, from the Django
setting of that name when one is set (a test's override, a settings module of one's own), else
from the environment variable (`.env` included, which the settings module loads), else the
default. So the default is written once, beside the code that uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import environ
from django.conf import settings

env = environ.Env()


class Setting[T]:
    def __init__(self, read: Callable[..., T], default: T) -> None:
        self.read = read  # env.int, env.float, env.list, …: parses the environment variable
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Setting[T] | T:
        if instance is None:
            return self
        if hasattr(settings, self.name):
            value: Any = getattr(settings, self.name)
            return value
        return self.read(self.name, default=self.default)
