"""What every page of the panel's own shares: the admin's login and chrome around it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

type User = AbstractBaseUser | AnonymousUser
type View = Callable[..., HttpResponse]


def admin_page(allowed: Callable[[User], bool]) -> Callable[[View], View]:
    """Admin login and active staff first (admin_view), then `allowed(user)`, else 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not allowed(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorate


def render_page(request: HttpRequest, template: str, title: str, **context: Any) -> HttpResponse:
    """`template` with the admin's own context (site header, sidebar, user tools) and `title`."""
    context = {**admin.site.each_context(request), "title": title, **context}
    return render(request, template, context)
