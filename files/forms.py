from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from files import organizations
from files.ids import FileReference, InvalidId, parse_file_reference
from files.models import Organization


class OrganizationForm(forms.ModelForm):
    """The admin's face of files.organizations: the token is write-only, never rendered back."""

    token = forms.CharField(
        label="Access token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Organization
        fields = ["name", "org_id", "api_base_url"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["token"].help_text = (
                f"Stored, ending in {self.instance.token_hint}. Leave blank to keep it, unless "
                "the API base URL or the organization id changes: then enter it again."
            )
        else:
            self.fields["token"].required = True
            self.fields[
                "token"
            ].help_text = "A Tallyfy personal access token (Settings → Integrations → REST API)."

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        if not self.errors:
            try:
                organizations.organization_validate(
                    organization=self.instance if self.instance.pk else None,
                    **self._organization_fields(),
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned

    def save(self, commit: bool = True) -> Organization:
        """Saves through files.organizations; `commit=False` returns the unsaved instance."""
        if not commit:
            return self.instance
        if self.instance.pk:
            self.instance = organizations.organization_update(
                organization=self.instance, **self._organization_fields()
            )
        else:
            self.instance = organizations.organization_create(**self._organization_fields())
        self.save_m2m = self._save_m2m
        return self.instance

    def _organization_fields(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name] for name in ("name", "org_id", "api_base_url", "token")
        }


class FileLookupForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.all())
    file = forms.CharField(
        label="File id or URL",
        max_length=2000,
        help_text="A file id, or a Tallyfy file URL such as …/organizations/<org>/file/<id>/dl.",
    )

    def clean_file(self) -> FileReference:
        try:
            return parse_file_reference(self.cleaned_data["file"])
        except InvalidId as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        organization: Organization | None = cleaned.get("organization")
        reference: FileReference | None = cleaned.get("file")
        if organization and reference and reference.org_id not in (None, organization.org_id):
            owner = Organization.objects.filter(org_id=reference.org_id).first()
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
    )
