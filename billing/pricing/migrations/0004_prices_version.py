"""PricesVersion and the triggers that change it on every write to the price tables."""

from django.db import migrations, models

TABLES = ["billing_modelprice", "billing_modelalias"]


def create_triggers(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        # a sequence: a new number for every write, also several in one transaction (one
        # that loads a book between two writes must not keep it under the final version);
        # not owned by a table, so no TRUNCATE … RESTART IDENTITY resets it
        run("CREATE SEQUENCE billing_prices_version_seq")
        run("CREATE FUNCTION billing_prices_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO billing_pricesversion (id, version) VALUES (1, nextval('billing_prices_version_seq')) "
            "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version; RETURN NULL; END $$")
        for table in TABLES:
            run(f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION billing_prices_changed()")
        run("INSERT INTO billing_pricesversion (id, version) VALUES (1, nextval('billing_prices_version_seq'))")
        return
    for table in TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            run(f"CREATE TRIGGER {table}_version_{event.lower()} AFTER {event} ON {table} BEGIN "
                "INSERT OR REPLACE INTO billing_pricesversion (id, version) VALUES (1, random()); END")
    run("INSERT INTO billing_pricesversion (id, version) VALUES (1, random())")


def drop_triggers(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            run(f"DROP TRIGGER IF EXISTS {table}_version ON {table}")
        run("DROP FUNCTION IF EXISTS billing_prices_changed()")
        run("DROP SEQUENCE IF EXISTS billing_prices_version_seq")
        return
    for table in TABLES:
        for event in ("insert", "update", "delete"):
            run(f"DROP TRIGGER IF EXISTS {table}_version_{event}")


class Migration(migrations.Migration):

    dependencies = [
        ('pricing', '0003_tools_fees_classes'),
    ]

    operations = [
        migrations.CreateModel(
            name='PricesVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.BigIntegerField()),
            ],
            options={
                'db_table': 'billing_pricesversion',
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
