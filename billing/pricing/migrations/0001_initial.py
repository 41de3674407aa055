"""ModelPrice and ModelAlias move here from `billing` without touching the database: the
tables keep their names (billing_modelprice, billing_modelalias); only Django's model state
and the content types move."""

from django.db import migrations, models

MOVED = ["modelprice", "modelalias"]


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
        ("contenttypes", "0002_remove_content_type_name"),
        ("billing", "0002_budget_alert_delivery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ModelAlias',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('alias', models.CharField(max_length=200, unique=True)),
                        ('model', models.CharField(max_length=120)),
                        ('is_custom', models.BooleanField(default=False)),
                    ],
                    options={
                        'db_table': 'billing_modelalias',
                        'verbose_name_plural': 'model aliases',
                        'ordering': ['alias'],
                    },
                ),
                migrations.CreateModel(
                    name='ModelPrice',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('model', models.CharField(help_text='Canonical model id, e.g. claude-sonnet-4-5', max_length=120)),
                        ('provider', models.CharField(max_length=40)),
                        ('display_name', models.CharField(blank=True, max_length=120)),
                        ('effective_from', models.DateField()),
                        ('input', models.DecimalField(decimal_places=6, max_digits=14)),
                        ('output', models.DecimalField(decimal_places=6, max_digits=14)),
                        ('cache_read', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('cache_write_5m', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('cache_write_1h', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('batch_discount', models.DecimalField(blank=True, decimal_places=4, default=0.5, help_text='Fraction taken off every class for Batch API requests (0.5 = 50 % off); empty = no batch API', max_digits=5, null=True)),
                        ('long_context_threshold', models.BigIntegerField(blank=True, help_text='Prompt tokens above which the whole request is priced at the long-context rates', null=True)),
                        ('lc_input', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('lc_output', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('lc_cache_read', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('lc_cache_write_5m', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('lc_cache_write_1h', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('priority_input', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('priority_output', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('priority_cache_read', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True)),
                        ('fast_multiplier', models.DecimalField(blank=True, decimal_places=3, max_digits=6, null=True)),
                        ('source_url', models.URLField(blank=True, max_length=500)),
                        ('is_custom', models.BooleanField(default=False)),
                        ('notes', models.TextField(blank=True)),
                    ],
                    options={
                        'db_table': 'billing_modelprice',
                        'ordering': ['provider', 'model', '-effective_from'],
                        'constraints': [models.UniqueConstraint(fields=('model', 'effective_from'), name='model_price_unique')],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_to("pricing", "billing"), content_types_to("billing", "pricing")),
    ]
