"""The file pages, served inside the admin site: thin views over `files.services`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import tallyfy_api
from accounts.sudo import sudo_required
from admin_pages.pages import View, admin_page, render_page
from evidence.access import access_recorded
from files import services
from files.deletion_errors import describe_deletion_failure
from files.file_responses import INLINE_SAFE_TYPES, file_response, media_type, safe_filename
from files.forms import DeleteFileForm, FileLookupForm
from files.lookup_hints import files_of_place_url
from files.models import DeletionState, FileDeletion
from organizations.errors import USER_FACING_ERRORS, describe_failure, with_details
from organizations.models import Organization
from organizations.selectors import organization_within_reach, organizations_for, within_reach
from tallyfy_api.names import display_name, escaped_in_json

LOOKUP_PERMISSION = "files.lookup_file"
DELETE_PERMISSION = "files.delete_file"
LAST_ORGANIZATION_KEY = "files_lookup_organization"


def staff_view(*permissions: str) -> Callable[[View], View]:
    """Admin login and active staff first, then each permission, else 403."""
    return admin_page(lambda user: user.has_perms(permissions))


@require_GET
@staff_view(LOOKUP_PERMISSION)
def file_lookup_view(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {
        "organization": request.GET.get("organization")
        or request.session.get(LAST_ORGANIZATION_KEY)
    }
    form = FileLookupForm(
        request.GET if "file" in request.GET else None,
        initial=initial,
        organizations=organizations_for(request.user),
    )
    if not initial["organization"] and len(form.offered) == 1:
        form.initial["organization"] = form.offered[0]
    pasted = form.place if form.is_bound and not form.is_valid() else None
    if pasted and (files_url := files_of_place_url(pasted, user=request.user)):
        return redirect(files_url)
    if form.is_bound and form.is_valid():
        organization = form.cleaned_data["organization"]
        asset_id = form.cleaned_data["file"].asset_id
        if request.session.get(LAST_ORGANIZATION_KEY) != organization.pk:
            request.session[LAST_ORGANIZATION_KEY] = organization.pk
        try:
            asset = services.file_lookup(organization=organization, asset_id=asset_id)
        except tallyfy_api.NotFound as exc:
            form.add_error(
                "file", describe_failure(exc, organization=organization, asset_id=asset_id)
            )
        except USER_FACING_ERRORS:
            pass  # the detail page says what went wrong, and can be reloaded
        else:
            services.file_seen_keep(
                session=request.session, organization=organization, asset_id=asset_id, asset=asset
            )
        if form.is_valid():
            return redirect("admin:files_detail", org_pk=organization.pk, asset_id=asset_id)
    return render_page(request, "files/lookup.html", "Look up a file", form=form, hint=form.hint)


@require_GET
@staff_view(LOOKUP_PERMISSION)
def file_detail_view(request: HttpRequest, org_pk: int, asset_id: str) -> HttpResponse:
    organization = _organization_or_404(request, org_pk)
    try:
        asset = services.file_lookup_for_page(
            session=request.session, organization=organization, asset_id=asset_id
        )
    except USER_FACING_ERRORS as exc:
        messages.error(request, describe_failure(exc, organization=organization, asset_id=asset_id))
        return render_page(
            request,
            "files/detail.html",
            f"File {asset_id}",
            organization=organization,
            asset_id=asset_id,
            asset=None,
        )
    access_recorded(request, organization=organization, asset_id=asset_id)
    return render_page(
        request,
        "files/detail.html",
        display_name(asset.filename) or f"File {asset_id}",
        organization=organization,
        asset_id=asset_id,
        asset=asset,
        probe=_probe(organization=organization, asset=asset),
        raw_json=escaped_in_json(
            json.dumps(asset.raw, indent=2, sort_keys=True, ensure_ascii=False)
        ),
        can_delete=request.user.has_perm(DELETE_PERMISSION),
        refusal=services.file_deletion_refusal(asset=asset, asset_id=asset_id),
    )


def _organization_or_404(request: HttpRequest, org_pk: int) -> Organization:
    organization = organization_within_reach(request.user, org_pk)
    if organization is None:
        raise Http404("No organization you may reach has this key.")
    return organization


def _probe(*, organization: Organization, asset: tallyfy_api.Asset) -> dict[str, Any] | None:
    """Type and size for the detail page, or None when Tallyfy will not say (the page then
    offers Download only)."""
    try:
        probe = services.file_probe(organization=organization, asset=asset)
    except USER_FACING_ERRORS:
        return None
    kind = media_type(probe.content_type)
    return {
        "content_type": kind or "unknown",
        "size_text": "—" if probe.content_length is None else filesizeformat(probe.content_length),
        "inline": kind in INLINE_SAFE_TYPES,
        "is_image": kind.startswith("image/"),
    }


def _file_body(request: HttpRequest, org_pk: int, asset_id: str, *, inline: bool) -> HttpResponse:
    organization = _organization_or_404(request, org_pk)
    try:
        download = services.file_open(organization=organization, asset_id=asset_id, inline=inline)
    except USER_FACING_ERRORS as exc:
        messages.error(request, describe_failure(exc, organization=organization, asset_id=asset_id))
        return redirect("admin:files_detail", org_pk=organization.pk, asset_id=asset_id)
    access_recorded(request, organization=organization, asset_id=asset_id, inline=inline)
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
@sudo_required
def file_delete_view(request: HttpRequest, org_pk: int, asset_id: str) -> HttpResponse:
    organization = _organization_or_404(request, org_pk)
    detail_url = reverse(
        "admin:files_detail", kwargs={"org_pk": organization.pk, "asset_id": asset_id}
    )
    form = DeleteFileForm(request.POST or None, initial={"reason": _reason_to_retry(request)})
    if request.method == "POST" and form.is_valid():
        try:
            deletion = services.file_delete(
                organization=organization,
                asset_id=asset_id,
                user=request.user,
                reason=form.cleaned_data["reason"],
                confirmation=form.cleaned_data["confirmation"],
                ticket=request.POST.get("ticket", ""),
                on_settled=lambda deletion: _record_admin_action(
                    request, deletion, message=_attempt_message(deletion), added=True
                ),
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
            _announce(request, deletion, retry_url=_retry_url(deletion))
            return _after_deletion(request, deletion, asset_id=asset_id)
    try:
        asset = services.file_lookup(organization=organization, asset_id=asset_id)
    except USER_FACING_ERRORS as exc:
        messages.error(request, describe_failure(exc, organization=organization, asset_id=asset_id))
        return redirect(detail_url)
    refusal = services.file_deletion_refusal(asset=asset, asset_id=asset_id)
    shown_name = display_name(asset.filename)
    form.show_expected(name=shown_name, asset_id=asset.id)
    accepted = sorted({text for text in (shown_name, asset.filename, asset.id) if text})
    return render_page(
        request,
        "files/delete_confirm.html",
        f"Delete {shown_name or asset_id}?",
        organization=organization,
        asset=asset,
        form=form,
        detail_url=detail_url,
        refusal=refusal,
        shown_name=shown_name or asset.id,
        accepted_json=json.dumps(accepted),
        ticket=None
        if refusal
        else services.deletion_ticket_issue(
            user=request.user, organization=organization, asset=asset
        ),
    )


def _reason_to_retry(request: HttpRequest) -> str:
    """The reason of the user's own earlier attempt (`?from=<pk>`), or `?reason=`."""
    earlier = request.GET.get("from", "")
    if earlier.isdigit():
        row = FileDeletion.objects.filter(pk=int(earlier), user=request.user).first()
        if row is not None:
            return row.reason
    return request.GET.get("reason", "")[:1000]


def _retry_url(deletion: FileDeletion) -> str:
    url = reverse(
        "admin:files_delete",
        kwargs={"org_pk": deletion.organization_id, "asset_id": deletion.asset_id},
    )
    return f"{url}?{urlencode({'from': deletion.pk})}"


def _attempt_message(deletion: FileDeletion) -> str:
    name = display_name(deletion.file_name) or deletion.asset_id
    return f"Deletion of {name} from Tallyfy: {deletion.get_state_display().lower()}."


def _record_admin_action(
    request: HttpRequest, deletion: FileDeletion, *, message: str, added: bool
) -> None:
    """The admin's own record (Recent actions, the row's History) of what this user did:
    the row this page's deletion wrote (`added`), or a check that settled it."""
    deletion_admin = admin.site.get_model_admin(FileDeletion)
    if added:
        deletion_admin.log_addition(request, deletion, message)
    else:
        deletion_admin.log_change(request, deletion, message)


def _after_deletion(
    request: HttpRequest, deletion: FileDeletion | None, *, asset_id: str
) -> HttpResponse:
    """To the deletion's log row; to the file's rows while that row is still being written;
    to the look-up page for users who cannot read the log."""
    if not request.user.has_perm("files.view_filedeletion"):
        return redirect("admin:files_lookup")
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
            messages.success(
                request,
                with_details(f"{name} was deleted from Tallyfy.", request_id=deletion.request_id),
            )
        case DeletionState.ALREADY_GONE:
            messages.warning(
                request,
                with_details(
                    f"{name} was already gone from Tallyfy: nothing was deleted now.",
                    request_id=deletion.request_id,
                ),
            )
        case DeletionState.FAILED:
            messages.error(
                request,
                format_html(
                    '{} <a href="{}">Try again</a>',
                    with_details(
                        f"Nothing was deleted: {name} is still in Tallyfy. "
                        f"{describe_deletion_failure(deletion)}",
                        request_id=deletion.request_id,
                    ),
                    retry_url,
                ),
            )
        case _:
            messages.warning(
                request,
                with_details(
                    f"We could not tell whether {name} was deleted: Tallyfy gave no clear "
                    "answer. The log entry can ask Tallyfy again.",
                    request_id=deletion.request_id,
                ),
            )


@require_POST
@staff_view(LOOKUP_PERMISSION, DELETE_PERMISSION)
def deletion_check_now_view(request: HttpRequest, pk: int) -> HttpResponse:
    deletion = get_object_or_404(
        within_reach(FileDeletion.objects.select_related("organization"), request.user), pk=pk
    )
    name = display_name(deletion.file_name) or deletion.asset_id
    was = deletion.state
    try:
        services.deletion_check_now(deletion=deletion)
    except services.CheckTooEarly as exc:
        messages.warning(request, str(exc))
    except USER_FACING_ERRORS as exc:
        failure = describe_failure(
            exc, organization=deletion.organization, asset_id=deletion.asset_id
        )
        messages.error(request, format_html("Still not known. {}", failure))
    else:
        if was == DeletionState.UNKNOWN and deletion.state == DeletionState.DELETED:
            messages.success(request, f"Checked now: {name} is gone from Tallyfy.")
        elif was == DeletionState.UNKNOWN and deletion.state == DeletionState.FAILED:
            messages.warning(request, f"Checked now: nothing was deleted, {name} is still there.")
        else:
            messages.info(request, f"Nothing to check: {deletion.get_state_display().lower()}.")
        if was != deletion.state:
            _record_admin_action(
                request,
                deletion,
                message=f"Checked with Tallyfy: {deletion.get_state_display().lower()}.",
                added=False,
            )
    return redirect("admin:files_filedeletion_change", deletion.pk)
