from datetime import date, timedelta

from django.db import migrations, models

# Frozen copy of usage.rollups' block arithmetic as of this schema (the live code may change).
SPANS = [4, 16, 64, 256]  # each 4 x the one before (1 = a single day)
DIMENSIONS = ["feature", "end_user", "api_key"]
METRICS = ["requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
           "cache_write_1h_tokens", "reasoning_tokens", "cost_nano", "cost_no_cache_nano",
           "cost_no_batch_nano", "reported_cost_nano", "unpriced_requests", "unpriced_records"]


def block_start(day: date, span: int) -> date:
    return date.fromordinal(day.toordinal() - day.toordinal() % span)


def build_blocks(apps, schema_editor):
    """Blocks for the single-day rows rolled up before blocks existed: each block summed from
    the 4 blocks of the next smaller span (or days) that make it up, bottom-up."""
    DimensionUsage = apps.get_model("usage", "DimensionUsage")
    table = DimensionUsage._meta.db_table
    sums = ", ".join(f"SUM({c})" for c in METRICS)
    sql = f"""
        INSERT INTO {table} (project_id, day, span, ledger, dimension, value, {", ".join(METRICS)})
        SELECT project_id, %s, %s, ledger, dimension, value, {sums}
        FROM {table}
        WHERE project_id = %s AND ledger = %s AND span = %s AND day IN (%s, %s, %s, %s)
        GROUP BY project_id, ledger, dimension, value
    """
    keys = {}
    for project_id, ledger, day in (DimensionUsage.objects.filter(span=1)
                                    .values_list("project_id", "ledger", "day").distinct()):
        keys.setdefault((project_id, ledger), set()).add(day)
    with schema_editor.connection.cursor() as cursor:
        for (project_id, ledger), days in keys.items():
            part = 1
            for span in SPANS:
                for first in sorted({block_start(day, span) for day in days}):
                    DimensionUsage.objects.filter(project_id=project_id, ledger=ledger, span=span,
                                                  day=first).delete()
                    parts = [first + timedelta(days=i * part) for i in range(span // part)]
                    cursor.execute(sql, [first, span, project_id, ledger, part, *parts])
                part = span


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
