"""The admin's forms for erasure requests; they check input, the services write."""

from __future__ import annotations

from typing import Any

from django import forms

from erasure import services
from erasure.models import ErasureRequest, RequestState
from erasure.subjects import normalize_emails


class ErasureRequestAddForm(forms.ModelForm):
    subject_emails = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The subject's email addresses, one a line.",
    )
    subject_name = forms.CharField(
        required=False, max_length=200, help_text="Optional: finds files named after them."
    )

    class Meta:
        model = ErasureRequest
        fields = [
            "organization",
            "reference",
            "legal_basis",
            "received_at",
            "verified_by",
            "verification_method",
            "verified_at",
            "assignee",
        ]

    def clean_subject_emails(self) -> tuple[str, ...]:
        return normalize_emails(self.cleaned_data["subject_emails"].splitlines())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for field, message in services.creation_errors(
            received_at=cleaned.get("received_at"), verified_at=cleaned.get("verified_at")
        ).items():
            self.add_error(field, message)
        return cleaned


class ErasureRequestChangeForm(forms.ModelForm):
    extension_months_requested = forms.TypedChoiceField(
        label="Extend by",
        required=False,
        coerce=int,
        empty_value=0,
        choices=[("", "no extension"), (1, "1 more month"), (2, "2 more months")],
    )
    extension_reason_given = forms.CharField(
        label="Why more time is needed", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    subject_told_on = forms.DateField(
        label="Date the subject was told of the extension",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end_as = forms.ChoiceField(
        label="End the request",
        required=False,
        choices=[
            ("", "keep it open"),
            (RequestState.REJECTED, "reject it"),
            (RequestState.CANCELLED, "cancel it"),
        ],
    )
    end_reason = forms.CharField(
        label="Why it ends", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = ErasureRequest
        fields = ["assignee"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        months = cleaned.get("extension_months_requested") or 0
        reason = cleaned.get("extension_reason_given", "")
        told_on = cleaned.get("subject_told_on")
        if months or reason.strip() or told_on:
            errors = services.extension_errors(
                months=months, reason=reason, subject_told_on=told_on
            )
            if not errors and months <= self.instance.extension_months:
                errors["extension_months"] = (
                    f"The request is already extended by {self.instance.extension_months} "
                    "month(s): choose more."
                )
            field_names = {
                "extension_months": "extension_months_requested",
                "extension_reason": "extension_reason_given",
                "subject_told_of_extension_on": "subject_told_on",
            }
            for field, message in errors.items():
                self.add_error(field_names[field], message)
        if cleaned.get("end_as") and not cleaned.get("end_reason", "").strip():
            self.add_error("end_reason", "Say why the request ends.")
        return cleaned
