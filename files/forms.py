from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from files import organizations
from files.lookup_hints import LookupHint, RunOrTaskReference, hint_for, parse_run_or_task
from files.models import Organization
from tallyfy_api.ids import FileReference, InvalidId, parse_file_reference


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
                "Leave blank to keep the stored token (see Token below), unless the API base "
                "URL or the organization id changes: then enter it again."
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
    organization = forms.ModelChoiceField(
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
    run_or_task: RunOrTaskReference | None = None

    def clean_file(self) -> FileReference:
        text = self.cleaned_data["file"]
        try:
            return parse_file_reference(text)
        except InvalidId as exc:
            run_or_task = parse_run_or_task(text)
            if run_or_task is not None:
                self.run_or_task = run_or_task
                self.hint = hint_for(run_or_task)
                raise forms.ValidationError(self.hint.message) from exc
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        organization: Organization | None = cleaned.get("organization")
        reference: FileReference | None = cleaned.get("file")
        if reference is None:
            return cleaned
        if organization is None:
            named = Organization.objects.filter(org_id=reference.org_id).first()
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
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 60}),
    )

    def show_expected(self, *, name: str, asset_id: str) -> None:
        """Label the confirmation with exactly what to type: the name shown, else the id."""
        field = self.fields["confirmation"]
        field.label = f'To confirm, type "{name or asset_id}"'
        field.help_text = f"Or the file id, {asset_id}." if name else ""
