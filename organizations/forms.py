from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from organizations import services
from organizations.models import Organization


class OrganizationForm(forms.ModelForm):
    """The admin's face of organizations.services: the token is write-only, never rendered back."""

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
                services.organization_validate(
                    organization=self.instance if self.instance.pk else None,
                    **self.organization_fields(),
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned

    def organization_fields(self) -> dict[str, str]:
        """What the services take: the admin saves through them (`OrganizationAdmin.save_model`)."""
        return {
            name: self.cleaned_data[name] for name in ("name", "org_id", "api_base_url", "token")
        }
