"""The rate limit's organization now names organizations.Organization: the same table, so only
Django's state changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("throttling", "0001_initial"),
        ("organizations", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    "ratelimit",
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="rate_limit",
                        serialize=False,
                        to="organizations.organization",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
