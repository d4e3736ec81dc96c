"""Organizations move here from the files app with their table (files_organization) and their
rows untouched: this migration changes Django's idea of where the model lives, not the database,
and hands the model's content type over, so that permissions and admin history follow it."""

import django.core.validators
from django.db import migrations, models

import organizations.models


def content_type_to(app_label, other):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        db = schema_editor.connection.alias
        if ContentType.objects.using(db).filter(app_label=app_label, model="organization").exists():
            return  # made afresh by an earlier run of post_migrate: nothing to hand over
        ContentType.objects.using(db).filter(app_label=other, model="organization").update(
            app_label=app_label
        )

    return move


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("files", "0006_organization_last_connected_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Organization",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200, unique=True)),
                        (
                            "org_id",
                            models.CharField(
                                max_length=255,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "\\A[A-Za-z0-9_-]{1,255}\\Z",
                                        "Use 1 to 255 letters, digits, '-' or '_' (a Tallyfy id).",
                                    )
                                ],
                                verbose_name="Tallyfy organization id",
                            ),
                        ),
                        (
                            "api_base_url",
                            models.CharField(
                                default=organizations.models.default_api_base_url,
                                help_text="https://go.tallyfy.com/api (documented) or https://api.tallyfy.com.",
                                max_length=500,
                                validators=[organizations.models.validate_api_base_url],
                                verbose_name="API base URL",
                            ),
                        ),
                        ("token_ciphertext", models.TextField(editable=False)),
                        ("token_last4", models.CharField(editable=False, max_length=4)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "last_connected_at",
                            models.DateTimeField(
                                blank=True,
                                editable=False,
                                null=True,
                                verbose_name="last successful connection",
                            ),
                        ),
                    ],
                    options={"db_table": "files_organization", "ordering": ["name"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            content_type_to("organizations", "files"), content_type_to("files", "organizations")
        ),
    ]
