from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet

from jobs.conf import conf
from jobs.lines import ParsedFiles, files_from_csv, files_from_text
from organizations.models import Organization

# 10,000 URLs of ~150 characters, with room to spare; a bigger upload is not a list of files.
CSV_MAX_BYTES = 5 * 1024 * 1024


class JobCreateForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.all())
    files = forms.CharField(
        label="File ids or URLs",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"}),
        help_text="One file id or Tallyfy file URL a line. Blank lines are skipped; repeats are "
        "merged.",
    )
    csv_file = forms.FileField(
        label="Or a CSV file",
        required=False,
        help_text="UTF-8, with a column named id or url (or a single column).",
    )

    def __init__(
        self, *args: object, organizations: QuerySet[Organization], **kwargs: object
    ) -> None:
        """`organizations`: those the user may reach (organizations.selectors), the only ones
        offered and accepted."""
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        self.fields["files"].help_text += f" At most {conf.JOBS_MAX_FILES:,} files."

    def clean_csv_file(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("csv_file")
        if upload is not None and upload.size > CSV_MAX_BYTES:
            raise forms.ValidationError(
                f"The CSV file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB."
            )
        return upload

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        text = (cleaned.get("files") or "").strip()
        upload = cleaned.get("csv_file")
        if self.errors:
            return cleaned
        if text and upload:
            raise forms.ValidationError("Paste the files or upload a CSV file, not both.")
        if not text and not upload:
            raise forms.ValidationError("Paste file ids or URLs, or upload a CSV file.")
        return cleaned

    def wanted(self) -> ParsedFiles:
        """The files asked for, once the form is valid."""
        upload = self.cleaned_data.get("csv_file")
        if upload is not None:
            return files_from_csv(upload.read())
        return files_from_text(self.cleaned_data["files"])


class JobConfirmForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="A ticket, GDPR request or incident reference: it goes into every log row.",
    )
    typed_count = forms.IntegerField(
        label="Number of files to delete",
        min_value=0,
        help_text="Type the number of files found, to confirm.",
    )
    start_after = forms.DateTimeField(
        label="Start after",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=f"Optional ({settings.TIME_ZONE}). Empty: as soon as it may start.",
    )


class JobRejectForm(forms.Form):
    rejection_reason = forms.CharField(
        label="Why reject it",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Required: the person who started the job reads it on the job's page.",
    )

    def clean_rejection_reason(self) -> str:
        reason = self.cleaned_data["rejection_reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the job is rejected.")
        return reason
