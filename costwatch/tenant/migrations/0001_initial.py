"""Project and IngestKey move here from `usage` without touching the database: the tables
keep their names (usage_project, usage_project_members, usage_ingestkey); only Django's
model state, and the content types (so admin permissions and log entries follow), move."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import costwatch.tenant.models

MOVED = ["project", "ingestkey"]


def content_types_to(new: str, old: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        for name in MOVED:
            if not ContentType.objects.filter(app_label=new, model=name).exists():
                ContentType.objects.filter(app_label=old, model=name).update(app_label=new)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
        ("usage", "0004_dimension_usage_blocks"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Project",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("slug", models.SlugField(max_length=60, unique=True)),
                        ("name", models.CharField(max_length=200)),
                        ("timezone", models.CharField(default="UTC", max_length=64, validators=[costwatch.tenant.models.validate_timezone])),
                        ("weekly_digest", models.BooleanField(default=False)),
                        ("digest_recipients", models.TextField(blank=True, help_text="Comma-separated e-mail addresses")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("members", models.ManyToManyField(blank=True, db_table="usage_project_members", related_name="projects", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "usage_project", "ordering": ["name"]},
                ),
                migrations.CreateModel(
                    name="IngestKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(default="default", max_length=100)),
                        ("prefix", models.CharField(max_length=16)),
                        ("key_hash", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="keys", to="tenant.project")),
                    ],
                    options={"db_table": "usage_ingestkey"},
                ),
            ],
        ),
        migrations.RunPython(content_types_to("tenant", "usage"), content_types_to("usage", "tenant")),
    ]
