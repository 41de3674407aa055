# The rollup tables leave half of each page free on PostgreSQL: an incremental rollup pass
# (usage.rollups._pending_sql) updates a day's rows in place, and with room on the page the
# update is HOT (no new index entries; the old version is pruned when the page is next
# read, without waiting for VACUUM). Full pages made every update a new index entry, and
# the index range of a day grew with every pass (bench/ingest.py --batches 1800).

from django.db import migrations

TABLES = ["usage_dailyusage", "usage_dailymodelusage", "usage_dimensionusage"]


def _fillfactor(schema_editor, value: int) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {value})")


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0020_incremental_rollups"),
    ]

    operations = [
        migrations.RunPython(lambda apps, editor: _fillfactor(editor, 50), lambda apps, editor: _fillfactor(editor, 100)),
    ]
