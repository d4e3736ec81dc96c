"""The file pages, served inside the admin site: thin views over `files.services`."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods

from files import services
from files.display import display_name, escaped_in_json
from files.errors import USER_FACING_ERRORS, describe_deletion_failure, describe_failure
from files.file_responses import file_response, safe_filename
from files.forms import DeleteFileForm, FileLookupForm
from files.models import DeletionState, FileDeletion, Organization

LOOKUP_PERMISSION = "files.lookup_file"
DELETE_PERMISSION = "files.delete_file"


def staff_view(
    *permissions: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Admin login and active staff first (admin_view), then each permission, else 403."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perms(permissions):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorate


def _page(request: HttpRequest, template: str, title: str, **context: Any) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": title, **context}
    return render(request, template, context)


@require_GET
@staff_view(LOOKUP_PERMISSION)
def file_lookup_view(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"organization": request.GET.get("organization")}
    if not initial["organization"]:
        first_two = list(Organization.objects.all()[:2])
        if len(first_two) == 1:
            initial["organization"] = first_two[0]
    form = FileLookupForm(request.GET if "file" in request.GET else None, initial=initial)
    if form.is_bound and form.is_valid():
        return redirect(
            "files:detail",
            org_pk=form.cleaned_data["organization"].pk,
            asset_id=form.cleaned_data["file"].asset_id,
        )
    return _page(request, "files/lookup.html", "Look up a file", form=form)


@require_GET
@staff_view(LOOKUP_PERMISSION)
def file_detail_view(request: HttpRequest, org_pk: int, asset_id: str) -> HttpResponse:
    organization = get_object_or_404(Organization, pk=org_pk)
    try:
        asset = services.file_lookup(organization=organization, asset_id=asset_id)
    except USER_FACING_ERRORS as exc:
        messages.error(request, describe_failure(exc, organization=organization, asset_id=asset_id))
        return _page(
            request,
            "files/detail.html",
            f"File {asset_id}",
            organization=organization,
            asset_id=asset_id,
            asset=None,
        )
    return _page(
        request,
        "files/detail.html",
        display_name(asset.filename) or f"File {asset_id}",
        organization=organization,
        asset_id=asset_id,
        asset=asset,
        raw_json=escaped_in_json(
            json.dumps(asset.raw, indent=2, sort_keys=True, ensure_ascii=False)
        ),
        can_delete=request.user.has_perm(DELETE_PERMISSION),
        refusal=services.file_deletion_refusal(asset=asset, asset_id=asset_id),
    )


def _file_body(request: HttpRequest, org_pk: int, asset_id: str, *, inline: bool) -> HttpResponse:
    organization = get_object_or_404(Organization, pk=org_pk)
    try:
        download = services.file_open(organization=organization, asset_id=asset_id, inline=inline)
    except USER_FACING_ERRORS as exc:
        messages.error(request, describe_failure(exc, organization=organization, asset_id=asset_id))
        return redirect("files:detail", org_pk=organization.pk, asset_id=asset_id)
    filename = safe_filename(download.filename, fallback=asset_id)
    return file_response(download, filename=filename, inline=inline)


@require_GET
@staff_view(LOOKUP_PERMISSION)
def file_download_view(request: HttpRequest, org_pk: int, asset_id: str) -> HttpResponse:
    return _file_body(request, org_pk, asset_id, inline=False)


@require_GET
@staff_view(LOOKUP_PERMISSION)
def file_inline_view(request: HttpRequest, org_pk: int, asset_id: str) -> HttpResponse:
    return _file_body(request, org_pk, asset_id, inline=True)


@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
@staff_view(LOOKUP_PERMISSION, DELETE_PERMISSION)
def file_delete_view(request: HttpRequest, org_pk: int, asset_id: str) -> HttpResponse:
    organization = get_object_or_404(Organization, pk=org_pk)
    detail_url = reverse("files:detail", kwargs={"org_pk": organization.pk, "asset_id": asset_id})
    form = DeleteFileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deletion = services.file_delete(
                organization=organization,
                asset_id=asset_id,
                user=request.user,
                reason=form.cleaned_data["reason"],
                confirmation=form.cleaned_data["confirmation"],
                ticket=request.POST.get("ticket", ""),
            )
        except services.ConfirmationMismatch as exc:
            form.add_error("confirmation", str(exc))
        except services.ConfirmationExpired as exc:
            form.add_error(None, str(exc))
        except services.DeletionConflict as exc:
            messages.warning(request, _with_log_link(str(exc), exc.deletion, asset_id=asset_id))
            return _after_deletion(request, exc.deletion, asset_id=asset_id)
        except services.NotDeletable as exc:
            messages.error(request, str(exc))
            return redirect(detail_url)
        except USER_FACING_ERRORS as exc:
            messages.error(
                request, describe_failure(exc, organization=organization, asset_id=asset_id)
            )
            return redirect(detail_url)
        else:
            _announce(request, deletion, retry_url=request.path)
            return _after_deletion(request, deletion, asset_id=asset_id)
    try:
        asset = services.file_lookup(organization=organization, asset_id=asset_id)
    except USER_FACING_ERRORS as exc:
        messages.error(request, describe_failure(exc, organization=organization, asset_id=asset_id))
        return redirect(detail_url)
    refusal = services.file_deletion_refusal(asset=asset, asset_id=asset_id)
    return _page(
        request,
        "files/delete_confirm.html",
        f"Delete {display_name(asset.filename) or asset_id}?",
        organization=organization,
        asset=asset,
        form=form,
        detail_url=detail_url,
        refusal=refusal,
        ticket=None
        if refusal
        else services.deletion_ticket_issue(
            user=request.user, organization=organization, asset=asset
        ),
    )


def _after_deletion(
    request: HttpRequest, deletion: FileDeletion | None, *, asset_id: str
) -> HttpResponse:
    """To the deletion's log row; to the file's rows while that row is still being written;
    to the look-up page for users who cannot read the log."""
    if not request.user.has_perm("files.view_filedeletion"):
        return redirect("files:lookup")
    if deletion is None:
        return redirect(_log_rows_of(asset_id))
    return redirect("admin:files_filedeletion_change", deletion.pk)


def _log_rows_of(asset_id: str) -> str:
    return f"{reverse('admin:files_filedeletion_changelist')}?{urlencode({'q': asset_id})}"


def _with_log_link(text: str, deletion: FileDeletion | None, *, asset_id: str) -> str:
    if deletion is None:
        return format_html(
            '{} <a href="{}">See its deletions in the log.</a>', text, _log_rows_of(asset_id)
        )
    url = reverse("admin:files_filedeletion_change", args=[deletion.pk])
    return format_html('{} <a href="{}">See that deletion in the log.</a>', text, url)


def _announce(request: HttpRequest, deletion: FileDeletion, *, retry_url: str) -> None:
    name = display_name(deletion.file_name) or deletion.asset_id
    match deletion.state:
        case DeletionState.DELETED:
            messages.success(request, f"{name} was deleted from Tallyfy. {deletion.outcome}")
        case DeletionState.ALREADY_GONE:
            messages.warning(request, f"{name} was already gone from Tallyfy. {deletion.outcome}")
        case DeletionState.FAILED:
            messages.error(
                request,
                format_html(
                    '{} was not deleted. {} <a href="{}">Try again</a>',
                    name,
                    describe_deletion_failure(deletion),
                    retry_url,
                ),
            )
        case _:
            messages.warning(
                request, f"It is not yet certain whether {name} was deleted. {deletion.outcome}"
            )
