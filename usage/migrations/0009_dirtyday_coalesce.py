from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0008_project_moves_to_tenant"),
    ]

    operations = [
        migrations.AddField(
            model_name="dirtyday",
            name="dirty_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="dirtyday",
            name="due_at",
            field=models.DateTimeField(blank=True, help_text="When the queued rollup runs", null=True),
        ),
        migrations.AddField(
            model_name="dirtyday",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
