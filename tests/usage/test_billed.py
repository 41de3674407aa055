"""The billed ledger's one rule (usage.billed): every pair of formats describing the same
provider usage, in both orders and repeated, counts each provider × day once; totals are
the provider's. Expected figures are the hand-computed ones of test_imports.py."""

import csv
import io
import itertools

import pytest

from tests.usage.test_imports import (
    CONSOLE_TOTAL,
    FILE_SEARCH,
    SAMPLES,
    WEB_SEARCH,
    total,
    usd,
    write,
)
from usage import billed
from usage.imports import run_import
from usage.models import DirectoryEntry, ImportJob, UsageRecord
from usage.pricing_jobs import reprice

ANTHROPIC = {
    "console_usage": "anthropic_console_usage.csv",
    "usage_report": "anthropic_usage_report.json",
    "console_cost": "anthropic_console_cost.csv",
    "cost_report": "anthropic_cost_report.json",
}
OPENAI = {
    "usage_csv": "openai_dashboard_completions_usage_2026-03-09_2026-03-11.csv",
    "usage_api": "openai_usage_completions.json",
    "cost_csv": "openai_dashboard_cost_2026-03-09_2026-03-11.csv",
    "costs_api": "openai_costs.json",
    "cost_csv_2025": "openai_dashboard_cost_2025_layout.csv",
}
OPENAI_TOKENS = usd("4.2079383")
# What each cost view alone bills: the Console CSV rounds each row to cents.
ANTHROPIC_COST_ALONE = {"console_cost": usd("86.16"), "cost_report": CONSOLE_TOTAL}


def anthropic_expected(names):
    tokens = [n for n in names if n in {"console_usage", "usage_report"}]
    costs = [n for n in names if n in {"console_cost", "cost_report"}]
    if not tokens:
        return ANTHROPIC_COST_ALONE[costs[-1]]  # the later cost view restates the earlier
    # tokens and web searches (from the token rows' counts) at our prices
    return CONSOLE_TOTAL


def run(project, files, names):
    return [run_import(project=project, paths=[SAMPLES / files[n]]) for n in names]


@pytest.mark.parametrize("names", list(itertools.permutations(ANTHROPIC, 2)), ids="-then-".join)
def test_anthropic_every_pair_in_both_orders_counts_once(project, names):
    run(project, ANTHROPIC, names)
    assert total(project) == anthropic_expected(names)
    tokens = UsageRecord.objects.exclude(metadata__has_key="cost_only")
    assert tokens.count() == (7 if set(names) & {"console_usage", "usage_report"} else 0)
    # one token view and one cost view at most survive
    formats = set(UsageRecord.objects.values_list("metadata__format", flat=True))
    assert len(formats & {"anthropic_console_usage", "anthropic_usage_report"}) <= 1
    assert len(formats & {"anthropic_console_cost", "anthropic_cost_report"}) <= 1


@pytest.mark.parametrize("names", list(itertools.permutations(OPENAI, 2)), ids="-then-".join)
def test_openai_every_pair_in_both_orders_counts_once(project, names):
    run(project, OPENAI, names)
    token_views = set(names) & {"usage_csv", "usage_api"}
    cost_views = [n for n in names if n not in {"usage_csv", "usage_api"}]
    if token_views and cost_views:
        assert total(project) == OPENAI_TOKENS + FILE_SEARCH
    elif token_views:
        assert total(project) == OPENAI_TOKENS  # the usage sample prices exactly to the Costs API
    else:
        assert total(project) == OPENAI_TOKENS + FILE_SEARCH  # the provider's own total
    assert total(project, "reported_cost_nano") == (OPENAI_TOKENS + FILE_SEARCH if cost_views else 0)


def test_everything_twice_in_any_order_is_still_the_providers_total(project):
    names = ["console_cost", "usage_report", "console_usage", "cost_report"]
    run(project, ANTHROPIC, names + names[::-1])
    run(project, OPENAI, list(OPENAI) * 2)
    assert total(project, provider="anthropic") == CONSOLE_TOTAL
    assert total(project, provider="openai") == OPENAI_TOKENS + FILE_SEARCH
    # the last views imported are the ones kept: the Admin usage report + the Console cost CSV
    assert set(UsageRecord.objects.filter(provider="anthropic").values_list("metadata__format", flat=True)) == {
        "anthropic_usage_report", "anthropic_console_cost"}


def test_a_later_token_source_says_what_it_replaced(project):
    run(project, ANTHROPIC, ["console_usage"])
    summary = run_import(project=project, paths=[SAMPLES / ANTHROPIC["usage_report"]])
    assert summary.records_replaced == 7 and summary.records_added == 7
    assert summary.notes == ["replaced 7 billed rows of 2026-03-09…2026-03-10 from the Console usage CSV"]
    assert ImportJob.objects.order_by("-pk").first().notes == summary.notes[0]
    assert summary.cost_nano == 0  # the same usage, restated: nothing added
    again = run_import(project=project, paths=[SAMPLES / ANTHROPIC["usage_report"]])
    assert (again.records_added, again.records_replaced, again.duplicates, again.notes) == (0, 0, 7, [])


def test_restatement_drops_rows_the_later_export_no_longer_has(project, tmp_path):
    run(project, ANTHROPIC, ["console_usage"])
    lines = (SAMPLES / ANTHROPIC["console_usage"]).read_text(encoding="utf-8").splitlines()
    # the later export of the month has no eval-batch row on 03-09 (e.g. a refunded batch)
    later = write(tmp_path, "later.csv", "\n".join(line for line in lines if "eval-batch" not in line) + "\n")
    summary = run_import(project=project, paths=[later])
    assert summary.records_replaced == 1 and summary.duplicates == 6
    assert not UsageRecord.objects.filter(api_key="eval-batch").exists()


def test_workspaces_the_directory_maps_are_restated_one_by_one(project, tmp_path):
    """With names mapped to ids, a Console export of one workspace replaces only it."""
    for ident, name in [("wrkspc_01MwJ8RkT4vXq2ZpN6cB9sLd", "Claude Code"), ("wrkspc_01Pz3LqV8nRt6YkW2mXc5bJh", "Research, EU")]:
        DirectoryEntry.objects.create(project=project, provider="anthropic", kind="workspace", ident=ident, name=name)
    run(project, ANTHROPIC, ["usage_report"])
    research = write(tmp_path, "research.csv", (
        "usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
        "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
        "usage_output_tokens,web_search_count,inference_geo,speed\n"
        '2026-03-10,claude-sonnet-4-6,research-notebooks,"Research, EU",standard,≤ 200k,60211,0,0,0,14004,0,global,\n'))
    summary = run_import(project=project, paths=[research])
    assert summary.records_replaced == 1  # only Research, EU's row of 03-10; the other 6 stay
    assert UsageRecord.objects.count() == 7
    row = UsageRecord.objects.get(workspace="wrkspc_01Pz3LqV8nRt6YkW2mXc5bJh")
    assert (row.input_tokens, row.metadata["format"]) == (60211, "anthropic_console_usage")
    assert total(project) == CONSOLE_TOTAL + (10000 * 3 + 2000 * 15) * 1000


def test_without_the_directory_names_and_ids_restate_the_whole_day(project, tmp_path):
    run(project, ANTHROPIC, ["usage_report"])
    one = write(tmp_path, "one.csv", (
        "usage_date_utc,model_version,api_key,workspace,usage_type,usage_input_tokens_no_cache,usage_output_tokens\n"
        "2026-03-10,claude-sonnet-4-6,research-notebooks,Research,standard,1000000,0\n"))
    summary = run_import(project=project, paths=[one])
    # 'Research' can't be told apart from the ids of 03-10: the day's 3 id rows are replaced,
    # the default workspace's row stays (Default ⇔ workspace_id null on both sides)
    assert summary.records_replaced == 2
    assert set(UsageRecord.objects.filter(day="2026-03-10").values_list("workspace", flat=True)) == {"", "Research"}


def test_the_cost_csv_fills_the_key_directory_and_rows_show_ids(project):
    run(project, ANTHROPIC, ["console_usage", "console_cost"])
    names = dict(DirectoryEntry.objects.filter(kind="api_key").values_list("name", "ident"))
    assert names["prod-backend"].startswith("apikey_")
    # the earlier usage rows, stored by name, now carry the id too
    assert not UsageRecord.objects.filter(api_key="prod-backend").exists()
    assert UsageRecord.objects.filter(api_key=names["prod-backend"], input_tokens__gt=0).count() == 3


def test_reprice_all_keeps_covered_cost_rows_at_zero(project):
    run(project, ANTHROPIC, ["usage_report", "cost_report"])
    reprice(project_id=project.pk, only_unpriced=False)
    assert total(project) == CONSOLE_TOTAL


def test_a_fee_the_token_rows_price_is_covered_too(project, monkeypatch):
    """Web searches are priced from the usage rows' counts: the cost view's web search rows
    keep the bill's amount but count 0 (they would count twice otherwise)."""
    run(project, ANTHROPIC, ["usage_report", "cost_report"])
    assert total(project) == CONSOLE_TOTAL
    assert total(project, "fees_nano") == WEB_SEARCH  # on the token rows
    searches = UsageRecord.objects.filter(metadata__cost_type="web_search")
    assert [(r.cost_nano, r.fees_nano) for r in searches] == [(0, 0)] * 3
    assert sum(r.reported_cost_nano for r in searches) == WEB_SEARCH
    monkeypatch.setattr(billed, "FEES_PRICED_FROM_TOKENS", {})
    billed.cover(project=project, provider_days=[("anthropic", d) for d in
                                                 UsageRecord.objects.dates("day", "day")])
    assert total(project) == CONSOLE_TOTAL + WEB_SEARCH


def test_a_token_view_without_search_counts_leaves_the_fee_to_the_cost_view(project, tmp_path):
    """A Console usage CSV of the older layout without web_search_count: the cost view's
    web search rows are not covered, so the searches are still counted (once)."""
    rows = list(csv.reader(io.StringIO((SAMPLES / ANTHROPIC["console_usage"]).read_text(encoding="utf-8"))))
    at = rows[0].index("web_search_count")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([c for i, c in enumerate(row) if i != at] for row in rows)
    no_counts = write(tmp_path, "no_counts.csv", out.getvalue())
    run_import(project=project, paths=[no_counts])
    assert total(project) == CONSOLE_TOTAL - WEB_SEARCH  # tokens only
    run(project, ANTHROPIC, ["cost_report"])
    assert total(project) == CONSOLE_TOTAL  # + the cost report's $0.22 of web search


def test_two_views_of_one_kind_in_one_run_count_once(project):
    """One upload run with the Console usage CSV and the Admin usage report: the later file
    restates the earlier, as in two runs."""
    paths = [SAMPLES / ANTHROPIC["console_usage"], SAMPLES / ANTHROPIC["usage_report"], SAMPLES / ANTHROPIC["cost_report"]]
    summary = run_import(project=project, paths=paths)
    assert total(project) == CONSOLE_TOTAL
    assert summary.notes == ["replaced 7 billed rows of 2026-03-09…2026-03-10 from the Console usage CSV"]
    assert UsageRecord.objects.exclude(metadata__has_key="cost_only").count() == 7


def test_openai_usage_csv_then_api_with_the_same_keys_is_a_restatement(project, tmp_path):
    run(project, OPENAI, ["usage_api"])
    again = run_import(project=project, paths=[SAMPLES / OPENAI["usage_api"]])
    assert (again.duplicates, again.records_replaced) == (3, 0)
    csv_after = run_import(project=project, paths=[SAMPLES / OPENAI["usage_csv"]])
    assert csv_after.records_replaced == 3 and total(project) == OPENAI_TOKENS
