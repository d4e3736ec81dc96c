"""The organization foreign keys now name organizations.Organization: the same table, so only
Django's state changes."""

import django.db.models.deletion
from django.db import migrations, models


def organization_key():
    return models.ForeignKey(
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        to="organizations.organization",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_scans_never_infer_gone"),
        ("organizations", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField("scan", "organization", organization_key()),
                migrations.AlterField("indexedfile", "organization", organization_key()),
            ],
            database_operations=[],
        ),
    ]
