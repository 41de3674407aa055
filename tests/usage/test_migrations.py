"""Upgrading a database that has per-day dimension rows (0003) builds their blocks (0004)."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from usage import partitions

BEFORE = [("usage", "0003_daily_dimension_usage")]
AFTER = [("usage", "0004_dimension_usage_blocks")]


@pytest.fixture
def back_to_latest():
    """Migrating back leaves later migrations unapplied: re-apply them for the next tests."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    partitions.forget()  # the usage table was rebuilt (migration 0014): its partitions are new


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
    blocks = executor.loader.project_state(AFTER).apps.get_model("usage", "DimensionUsage")
    assert set(blocks.objects.filter(span=16).values_list("value", "cost_nano")) == {
        (f"u{k}", sum(1000 + i for i in range(16) if i % 3 == k)) for k in range(3)}
    assert blocks.objects.filter(span=4).count() == 4 * 3

    # the read side of today's schema finds them
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from usage.models import Project
    from usage.reports.queries import SpendQuery, spend

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


@pytest.mark.django_db(transaction=True)
def test_0010_moves_openai_cache_writes_and_web_searches_to_their_columns(back_to_latest):
    before, after = [("usage", "0009_dirtyday_coalesce")], [("usage", "0010_tools_fees_classes")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    project = old.get_model("tenant", "Project").objects.create(slug="old", name="Old")
    record = old.get_model("usage", "UsageRecord")
    common = {"project_id": project.pk, "timestamp": "2026-11-02T00:00:00Z", "day": "2026-11-02", "cost_nano": 1}
    record.objects.create(source="api", external_id="o", provider="openai", model="gpt-5.6-sol",
                          cache_write_5m_tokens=1000, cache_write_1h_tokens=2000, **common)
    record.objects.create(source="api", external_id="a", provider="anthropic", model="claude-opus-4-6",
                          cache_write_5m_tokens=300, **common)
    record.objects.create(source="anthropic_console", external_id="c", provider="anthropic", ledger="billed",
                          model="claude-sonnet-4-6", metadata={"web_search_count": 12, "inference_geo": "us"}, **common)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    apps = executor.loader.project_state(after).apps
    new = apps.get_model("usage", "UsageRecord")
    got = {r.external_id: (r.cache_write_5m_tokens, r.cache_write_1h_tokens, r.cache_write_30m_tokens,
                           r.cache_write_12h_tokens, r.web_search_requests, r.region, r.metadata)
           for r in new.objects.all()}
    assert got == {"o": (0, 0, 1000, 2000, 0, "", {}), "a": (300, 0, 0, 0, 0, "", {}),
                   "c": (0, 0, 0, 0, 12, "us", {"inference_geo": "us"})}
    dirty = apps.get_model("usage", "DirtyDay").objects.values_list("day", "ledger")
    assert {(d.isoformat(), ledger) for d, ledger in dirty} == {("2026-11-02", "metered"), ("2026-11-02", "billed")}
