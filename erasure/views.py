"""The request page's actions after review (send for approval, approve, send back, retry
failed files, close with exceptions) and its receipt. ErasureRequestAdmin wires them in."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.sudo import sudo_required
from erasure import approval, discovery, following, receipts
from erasure.machine import ENDED_STATES
from erasure.models import ErasureRequest
from erasure.selectors import may_handle

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def _request(model_admin: ModelAdmin, request: HttpRequest, pk: int) -> ErasureRequest:
    """The request, when this user reaches its organization and may handle requests."""
    found = get_object_or_404(model_admin.get_queryset(request), pk=pk)
    if not (model_admin.has_view_permission(request, found) and may_handle(request.user)):
        raise PermissionDenied
    return found


def _back(erasure_request: ErasureRequest, anchor: str = "deletion") -> HttpResponseRedirect:
    url = reverse("admin:erasure_erasurerequest_change", args=[erasure_request.pk])
    return HttpResponseRedirect(f"{url}#{anchor}")


def _act(
    request: HttpRequest,
    erasure_request: ErasureRequest,
    act: Callable[[], Any],
    done: str,
    anchor: str = "deletion",
) -> HttpResponseRedirect:
    try:
        act()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return _back(erasure_request, anchor)


@require_POST
def discover_view(request: HttpRequest, pk: int, *, model_admin: ModelAdmin) -> HttpResponse:
    found = _request(model_admin, request, pk)
    if not model_admin.has_change_permission(request, found):
        raise PermissionDenied
    try:
        made = discovery.erasure_request_discover(request=found, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            "The index is being refreshed first: the search runs when the scan ends."
            if made is None
            else "The index was searched: review what each rule found.",
        )
    return _back(found, "discovery-heading")


def _action(act: Callable[[HttpRequest, ErasureRequest], Any], done: str) -> Callable[..., Any]:
    """A POST-only view that runs `act` on the request and goes back to its page, saying
    `done` or why nothing changed."""

    @require_POST
    def view(request: HttpRequest, pk: int, *, model_admin: ModelAdmin) -> HttpResponse:
        found = _request(model_admin, request, pk)
        return _act(request, found, lambda: act(request, found), done)

    return view


send_view = _action(
    lambda request, found: approval.erasure_request_send(request=found, by=request.user),
    "Sent for approval: a second staff user who may approve deletions approves it.",
)
send_back_view = _action(
    lambda request, found: approval.erasure_request_send_back(
        request=found, by=request.user, reason=request.POST.get("reason", "")
    ),
    "Sent back to review.",
)
approve_view = sudo_required(
    _action(
        lambda request, found: approval.erasure_request_approve(request=found, by=request.user),
        "Approved: the files are being deleted. This page follows the deletion job.",
    )
)
retry_view = _action(
    lambda request, found: following.erasure_request_retry_failed(request=found, by=request.user),
    "A new deletion job tries the failed files again.",
)
close_view = _action(
    lambda request, found: following.erasure_request_close_with_exceptions(
        request=found, by=request.user, reason=request.POST.get("reason", "")
    ),
    "Closed with exceptions: the receipt lists the files not deleted.",
)


@require_GET
def receipt_view(request: HttpRequest, pk: int, *, model_admin: ModelAdmin) -> HttpResponse:
    found = _request(model_admin, request, pk)
    if found.state not in ENDED_STATES:
        messages.error(request, "A receipt is issued once the request has ended.")
        return _back(found)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Receipt: erasure request {found.reference}",
        "opts": model_admin.model._meta,
        "original": found,
        "receipt": receipts.receipt_facts(found),
    }
    return TemplateResponse(request, "erasure/receipt.html", context)


@require_GET
def receipt_json_view(request: HttpRequest, pk: int, *, model_admin: ModelAdmin) -> HttpResponse:
    found = _request(model_admin, request, pk)
    try:
        signed = receipts.receipt_file(found)
    except ValueError as exc:
        messages.error(request, str(exc))
        return _back(found)
    response = HttpResponse(
        json.dumps(signed, indent=2, ensure_ascii=False), content_type="application/json"
    )
    name = f"erasure-receipt-{found.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
