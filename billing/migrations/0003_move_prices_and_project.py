"""State only: budgets and digests point at tenant.Project, and ModelPrice / ModelAlias
now belong to the pricing app (same tables, see pricing 0001). No SQL runs."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0002_budget_alert_delivery"),
        ("pricing", "0001_initial"),
        ("tenant", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="budget",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="budgets", to="tenant.project"),
                ),
                migrations.AlterField(
                    model_name="digestsent",
                    name="project",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenant.project"),
                ),
                migrations.DeleteModel(name="ModelPrice"),
                migrations.DeleteModel(name="ModelAlias"),
            ],
        ),
    ]
