"""Upgrading a database that has per-day dimension rows (0003) builds their blocks (0004)."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("usage", "0003_daily_dimension_usage")]
AFTER = [("usage", "0004_dimension_usage_blocks")]


@pytest.mark.django_db(transaction=True)
def test_0004_builds_blocks_for_days_rolled_up_before():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    project = old.get_model("usage", "Project").objects.create(slug="old", name="Old")
    rows = old.get_model("usage", "DailyDimensionUsage")
    first = date.fromordinal(date(2026, 9, 1).toordinal() // 16 * 16)  # a 16-day block
    for i in range(16):
        rows.objects.create(project_id=project.pk, day=first + timedelta(days=i), ledger="metered",
                            dimension="end_user", value=f"u{i % 3}", requests=1, cost_nano=1000 + i)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    from usage.models import DimensionUsage, Project
    from usage.queries import SpendQuery, spend

    assert set(DimensionUsage.objects.filter(span=16).values_list("value", "cost_nano")) == {
        (f"u{k}", sum(1000 + i for i in range(16) if i % 3 == k)) for k in range(3)}
    assert DimensionUsage.objects.filter(span=4).count() == 4 * 3
    _, total, _ = spend(SpendQuery(project=Project.objects.get(slug="old"), start=first,
                                       end=first + timedelta(days=15), ledger="metered",
                                       group_by=["user"]))
    assert total["cost_nano"] == sum(1000 + i for i in range(16))
