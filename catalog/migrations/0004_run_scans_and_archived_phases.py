"""Scans of one run (`run_id`; one unfinished scan per organization and run, the whole
organization's having a blank one), and the archived templates' and one-off tasks' phases."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_search_by_uploader"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="scan",
            name="catalog_one_scan_at_a_time",
        ),
        migrations.AddField(
            model_name="scan",
            name="run_id",
            field=models.CharField(
                blank=True,
                help_text="Only this process run; blank for the whole organization.",
                max_length=255,
                verbose_name="run id",
            ),
        ),
        migrations.AlterField(
            model_name="scan",
            name="phase",
            field=models.CharField(
                choices=[
                    ("runs", "Process runs"),
                    ("archived_runs", "Archived process runs"),
                    ("oneoff_tasks", "One-off tasks"),
                    ("archived_oneoffs", "Archived one-off tasks"),
                    ("templates", "Templates"),
                    ("archived_templates", "Archived templates"),
                    ("run", "The process run"),
                    ("uploads", "Who uploaded (activity feed)"),
                    ("finishing", "Marking files no longer found"),
                ],
                default="runs",
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="scan",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ("queued", "running"))),
                fields=("organization", "run_id"),
                name="catalog_one_scan_at_a_time",
                violation_error_message="This organization or run is being scanned already.",
            ),
        ),
    ]
