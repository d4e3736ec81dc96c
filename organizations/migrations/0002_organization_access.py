"""Organization access for users and groups. Every user who exists now keeps reaching every
organization (a row with *all organizations* on), so the upgrade changes nothing until access
is configured; users made later reach none until given organizations."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def existing_users_reach_all(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    OrganizationAccess = apps.get_model("organizations", "OrganizationAccess")
    db = schema_editor.connection.alias
    OrganizationAccess.objects.using(db).bulk_create(
        OrganizationAccess(user_id=pk, all_organizations=True)
        for pk in User.objects.using(db).values_list("pk", flat=True).iterator()
    )


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('organizations', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='OrganizationAccess',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('all_organizations', models.BooleanField(default=False, help_text="Every organization, today's and those added later.")),
                ('group', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='organization_access', to='auth.group')),
                ('organizations', models.ManyToManyField(blank=True, help_text='The organizations reached when “all organizations” is off.', related_name='+', to='organizations.organization')),
                ('user', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='organization_access', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'organization access',
                'verbose_name_plural': 'organization access',
                'default_permissions': (),
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('group__isnull', True), ('user__isnull', False)), models.Q(('group__isnull', False), ('user__isnull', True)), _connector='OR'), name='organization_access_one_holder', violation_error_message='Organization access belongs to a user or a group.')],
            },
        ),
        migrations.RunPython(existing_users_reach_all, migrations.RunPython.noop),
    ]
