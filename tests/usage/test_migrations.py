"""Upgrading a database that has per-day dimension rows (0003) builds their blocks (0004)."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("usage", "0003_daily_dimension_usage")]
AFTER = [("usage", "0004_dimension_usage_blocks")]


@pytest.fixture
def back_to_latest():
    """Migrating back leaves later migrations unapplied: re-apply them for the next tests."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_0004_builds_blocks_for_days_rolled_up_before(back_to_latest):
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
    from usage.reports.queries import SpendQuery, spend

    assert set(DimensionUsage.objects.filter(span=16).values_list("value", "cost_nano")) == {
        (f"u{k}", sum(1000 + i for i in range(16) if i % 3 == k)) for k in range(3)}
    assert DimensionUsage.objects.filter(span=4).count() == 4 * 3
    _, total, _ = spend(SpendQuery(project=Project.objects.get(slug="old"), start=first,
                                       end=first + timedelta(days=15), ledger="metered",
                                       group_by=["user"]))
    assert total["cost_nano"] == sum(1000 + i for i in range(16))


@pytest.mark.django_db(transaction=True)
def test_0005_gives_billed_rows_stored_before_their_workspace_and_coverage(back_to_latest):
    before, after = [("usage", "0004_dimension_usage_blocks")], [("usage", "0005_billed_ledger_directory")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    project = old.get_model("usage", "Project").objects.create(slug="old", name="Old")
    record = old.get_model("usage", "UsageRecord")
    common = {"project_id": project.pk, "ledger": "billed", "timestamp": "2026-03-09T00:00:00Z", "day": "2026-03-09",
              "provider": "anthropic"}
    record.objects.create(source="anthropic_console", external_id="a", model="claude-sonnet-4-6",
                          metadata={"workspace": "Research, EU"}, **common)
    record.objects.create(source="anthropic_admin", external_id="b", model="claude-opus-4-6",
                          metadata={"workspace_id": "wrkspc_01"}, **common)
    record.objects.create(source="anthropic_admin", external_id="2026-03-09|wrkspc_01|~web_search|", model="web_search",
                          metadata={"workspace_id": "wrkspc_01", "cost_only": True}, **common)
    record.objects.create(source="anthropic_admin", external_id="2026-03-09|", model="unattributed",
                          metadata={"workspace_id": "", "cost_only": True}, **common)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("usage", "UsageRecord")
    got = {r.external_id: (r.workspace, r.metadata.get("covers")) for r in new.objects.all()}
    assert got == {"a": ("Research, EU", None), "b": ("wrkspc_01", None),
                   "2026-03-09|wrkspc_01|~web_search|": ("wrkspc_01", "none"), "2026-03-09|": ("", "all")}
