"""PostgreSQL: the natural key (project, source, external_id, day) becomes a unique index on
(a 64-bit hash of source and external_id, the project, day): 32 B a record instead of 68 at
1M records (bench/storage.py). usage.models.NATURAL_KEY_HASH says what the lookups compare
first; usage.ingest then compares the text, and refuses two different ids of a project and
day with the same hash (KeyCollision). The index is built on the parent table, which
builds it on every partition (a SHARE lock on each while it is built: writes wait; about
a second per million records). SQLite keeps the text constraint: Django's state is
unchanged."""

from django.db import migrations

TABLE = "usage_usagerecord"
NAME = "usage_record_natural_key"
# usage.models.natural_key_index_sql() as of this migration
HASHED = (f"CREATE UNIQUE INDEX {NAME} ON {TABLE} "
          "((hashtextextended(external_id, hashtext(source))), ((project_id)::integer), day)")


def hashed(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {NAME}")
        cursor.execute(HASHED)


def text(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {NAME}")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {NAME} "
                       "UNIQUE (project_id, source, external_id, day)")


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0017_records_page_without_timestamp_index"),
    ]

    operations = [
        migrations.RunPython(hashed, text, elidable=False),
    ]
