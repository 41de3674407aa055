"""State only: Project and IngestKey now belong to the tenant app (same tables, see tenant
0001) and every foreign key points there. No SQL runs."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0007_provider_sync"),
        ("tenant", "0001_initial"),
        ("billing", "0003_move_prices_and_project"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="importjob",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="imports", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="usagerecord",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="records", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="dailyusage",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="dailymodelusage",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="dimensionusage",
                    name="project",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="dirtyday",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="directoryentry",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="directory", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="providerconnection",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="connections", to="tenant.project"),
                ),
                migrations.DeleteModel(name="IngestKey"),
                migrations.DeleteModel(name="Project"),
            ],
        ),
    ]
