"""Organizations now live in the organizations app (same table, same rows): the log's and the
tickets' keys name it there, and this app forgets the model. Nothing in the database changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("files", "0006_organization_last_connected_at"),
        ("organizations", "0001_initial"),
        ("catalog", "0006_organizations_app"),
        ("jobs", "0005_organizations_app"),
        ("throttling", "0002_organizations_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    "filedeletion",
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="organizations.organization",
                    ),
                ),
                migrations.AlterField(
                    "deletionticket",
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="organizations.organization",
                    ),
                ),
                migrations.DeleteModel("Organization"),
            ],
            database_operations=[],
        ),
    ]
