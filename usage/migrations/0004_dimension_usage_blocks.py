from django.db import migrations, models


def build_blocks(apps, schema_editor):
    """Blocks for the single-day rows rolled up before blocks existed."""
    from usage.rollups import refresh_blocks

    DimensionUsage = apps.get_model("usage", "DimensionUsage")
    keys = {}
    for project_id, ledger, day in (DimensionUsage.objects.filter(span=1)
                                    .values_list("project_id", "ledger", "day").distinct()):
        keys.setdefault((project_id, ledger), set()).add(day)
    for (project_id, ledger), days in keys.items():
        refresh_blocks(project_id=project_id, ledger=ledger, days=days)


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0003_daily_dimension_usage"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="dailydimensionusage", name="dailydim_proj_ledger_dim_day"),
        migrations.RemoveIndex(model_name="dailydimensionusage", name="dailydim_proj_led_dim_val_day"),
        migrations.RenameModel(old_name="DailyDimensionUsage", new_name="DimensionUsage"),
        migrations.AddField(
            model_name="dimensionusage",
            name="span",
            field=models.PositiveSmallIntegerField(default=1, help_text="Days in the block: 1, 4, 16, 64 or 256"),
        ),
        migrations.AlterField(
            model_name="dimensionusage",
            name="day",
            field=models.DateField(help_text="First day of the block"),
        ),
        migrations.AddIndex(
            model_name="dimensionusage",
            index=models.Index(fields=["project", "ledger", "dimension", "span", "day"],
                               name="dimusage_proj_led_dim_span_day"),
        ),
        migrations.AddIndex(
            model_name="dimensionusage",
            index=models.Index(fields=["project", "ledger", "dimension", "value", "span", "day"],
                               name="dimusage_led_dim_val_span_day"),
        ),
        migrations.RunPython(build_blocks, migrations.RunPython.noop),
    ]
