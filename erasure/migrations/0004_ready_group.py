"""A ready group for erasure requests, beside organizations' Viewers, Deleters, Approvers:
Erasure handlers may add, change and handle requests (see the subject in full, search, review).
Sending a request for approval also needs the delete permission (Deleters), approving it the
approval permission (Approvers). A group of that name that already exists is left as it is."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

HANDLING = ["view", "add", "change", "handle"]


def ready_group(apps, schema_editor):
    db = schema_editor.connection.alias
    app_config = apps.get_app_config("erasure")
    app_config.models_module = True  # post_migrate makes permissions later; they are needed now
    create_permissions(app_config, apps=apps, verbosity=0, using=db)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    if Group.objects.using(db).filter(name="Erasure handlers").exists():
        return
    group = Group.objects.using(db).create(name="Erasure handlers")
    group.permissions.add(
        *Permission.objects.using(db).filter(
            content_type__app_label="erasure",
            codename__in=[f"{action}_erasurerequest" for action in HANDLING],
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("erasure", "0003_erasure_jobs"),
        ("organizations", "0003_ready_groups"),
    ]

    operations = [migrations.RunPython(ready_group, migrations.RunPython.noop)]
