"""files: only the permissions the panel checks, each named for what it allows."""

from django.db import migrations


APP_LABEL = "files"

def permissions_as_declared(apps, schema_editor):
    """Existing databases: the permission rows follow the models' new options (post_migrate
    only adds missing ones): renamed where the name changed, removed where no longer declared
    (taking them off the users and groups that had them, where they meant nothing)."""
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in apps.get_app_config(APP_LABEL).get_models():
        opts = model._meta
        content_type = (
            ContentType.objects.using(db)
            .filter(app_label=APP_LABEL, model=opts.model_name)
            .first()
        )
        if content_type is None:
            continue  # a new database: post_migrate creates the declared ones
        declared = {
            f"{action}_{opts.model_name}": f"Can {action} {opts.verbose_name_raw}"
            for action in opts.default_permissions
        }
        declared.update(dict(opts.permissions))
        rows = Permission.objects.using(db).filter(content_type=content_type)
        rows.exclude(codename__in=declared).delete()
        for codename, name in declared.items():
            rows.filter(codename=codename).exclude(name=name).update(name=name)


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('files', '0007_organization_moves_out'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='deletionticket',
            options={'default_permissions': ()},
        ),
        migrations.AlterModelOptions(
            name='filedeletion',
            options={'default_permissions': (), 'ordering': ['-started_at', '-id'], 'permissions': [('view_filedeletion', 'Can read the deletion log'), ('lookup_file', 'Can look up, view and download Tallyfy files'), ('delete_file', 'Can permanently delete Tallyfy files')]},
        ),
        migrations.RunPython(permissions_as_declared, migrations.RunPython.noop),
    ]
