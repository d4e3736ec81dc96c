from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator

from files.lookup_hints import LookupHint, PlaceReference, hint_for, parse_place
from organizations.models import Organization
from tallyfy_api.ids import FileReference, InvalidId, parse_file_reference


class _OfferedChoices(ModelChoiceIterator):
    """The choices from the field's queryset itself, evaluated once and kept, where the stock
    iterator asks the database again on every rendering."""

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class OfferedOrganizationField(forms.ModelChoiceField):
    """A choice of the organizations offered, read once a page: the page asks whether there
    are any, which one is alone, and renders them, all from one query."""

    iterator = _OfferedChoices


class FileLookupForm(forms.Form):
    organization = OfferedOrganizationField(
        queryset=Organization.objects.all(),
        required=False,
        help_text="Not needed for a pasted URL that names a configured organization.",
    )
    file = forms.CharField(
        label="File id or URL",
        max_length=2000,
        help_text="A file id, or a Tallyfy file URL such as …/organizations/<org>/file/<id>/dl.",
        widget=forms.TextInput(attrs={"autofocus": True, "size": 60}),
    )

    hint: LookupHint | None = None
    place: PlaceReference | None = None

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        """`organizations`: those the user may reach (organizations.selectors), the only ones
        offered, named or found by a pasted URL's organization id."""
        super().__init__(*args, **kwargs)
        self.organizations = organizations
        self.fields["organization"].queryset = organizations
        # The field's own copy: evaluated by the first look and kept for the others.
        self.offered: QuerySet[Organization] = self.fields["organization"].queryset

    def clean_file(self) -> FileReference:
        text = self.cleaned_data["file"]
        try:
            return parse_file_reference(text)
        except InvalidId as exc:
            place = parse_place(text)
            if place is not None:
                self.place = place
                self.hint = hint_for(place, organizations=self.organizations)
                raise forms.ValidationError(self.hint.message) from exc
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        organization: Organization | None = cleaned.get("organization")
        reference: FileReference | None = cleaned.get("file")
        if reference is None:
            return cleaned
        if organization is None:
            named = self.organizations.filter(org_id=reference.org_id).first()
            if reference.org_id and named is None:
                self.add_error(
                    "file",
                    f"This URL is for Tallyfy organization {reference.org_id}, which is not "
                    "configured here. Add it under Organizations first.",
                )
            elif named is None:
                self.add_error("organization", "Pick the organization the file belongs to.")
            else:
                cleaned["organization"] = named
        elif reference.org_id not in (None, organization.org_id):
            owner = self.organizations.filter(org_id=reference.org_id).first()
            hint = f" Pick {owner.name}." if owner else " No organization here has that id."
            self.add_error(
                "file",
                f"This URL is for Tallyfy organization {reference.org_id}, not "
                f"{organization.name} ({organization.org_id}).{hint}",
            )
        return cleaned


class DeleteFileForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why this file is deleted: a ticket, GDPR request or incident reference.",
    )
    confirmation = forms.CharField(
        label="Type the file name or id to confirm",
        max_length=1000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 60}),
    )

    def show_expected(self, *, name: str, asset_id: str) -> None:
        """Label the confirmation with exactly what to type: the name shown, else the id."""
        field = self.fields["confirmation"]
        field.label = f'To confirm, type "{name or asset_id}"'
        field.help_text = f"Or the file id, {asset_id}." if name else ""
