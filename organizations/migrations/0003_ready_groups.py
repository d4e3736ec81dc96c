"""Ready groups, so nobody picks permissions one by one: Viewers, Deleters, Approvers and
Organization managers. A group of the same name that already exists is left as it is. The
groups give permissions only; which organizations their members reach is organization access
(on the user's or the group's page)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWING = [
    ("files", "lookup_file"),
    ("files", "view_filedeletion"),
    ("catalog", "view_indexedfile"),
    ("catalog", "view_scan"),
    ("organizations", "view_organization"),
]
GROUPS = {
    "Viewers": VIEWING,
    "Deleters": [*VIEWING, ("files", "delete_file"), ("catalog", "add_scan")],
    "Approvers": [*VIEWING, ("jobs", "approve_deletionjob")],
    "Organization managers": [
        ("organizations", f"{action}_organization")
        for action in ("view", "add", "change", "delete")
    ],
}


def ready_groups(apps, schema_editor):
    db = schema_editor.connection.alias
    for label in ("files", "jobs", "catalog", "organizations"):
        # post_migrate makes permissions after all migrations; these are needed now.
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=db)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in GROUPS.items():
        if Group.objects.using(db).filter(name=name).exists():
            continue
        group = Group.objects.using(db).create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(
                Permission.objects.using(db).get(
                    content_type__app_label=app_label, codename=codename
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("organizations", "0002_organization_access"),
        ("files", "0008_permission_names"),
        ("jobs", "0007_permission_names"),
        ("catalog", "0008_permission_names"),
    ]

    operations = [migrations.RunPython(ready_groups, migrations.RunPython.noop)]
