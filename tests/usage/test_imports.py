"""Importers: every sample in tests/fixtures/samples, exact totals per model and day worked
out by hand from the rows and the shipped prices (USD per million tokens; one token at
$1/M is 1,000 nano-USD), every quirk of docs/formats.md, errors, all-or-nothing, re-imports."""

import json
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum

from usage.importers import detect
from usage.importers.base import InputFile, model_key
from usage.imports import COUNTS, ImportFailed, ImportSummary, run_import
from usage.models import LEDGER_BILLED, LEDGER_METERED, DailyModelUsage, ImportJob, UsageRecord

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "samples"


def nano(*terms) -> int:
    """Σ tokens × rate (USD per M) in nano-USD, exactly."""
    total = sum(Decimal(tokens) * Decimal(rate) for tokens, rate in terms) * 1000
    assert total == total.to_integral_value()
    return int(total)


def usd(amount: str) -> int:
    return int(Decimal(amount) * 1_000_000_000)


def per_day_model(project, source=None, field="cost_nano"):
    qs = UsageRecord.objects.filter(project=project)
    if source:
        qs = qs.filter(source=source)
    out = {}
    for row in qs.values("day", "model").annotate(total=Sum(field)):
        key = (row["day"].isoformat(), model_key(row["model"]))
        out[key] = out.get(key, 0) + (row["total"] or 0)
    return out


def total(project, field="cost_nano", **filters):
    return UsageRecord.objects.filter(project=project, **filters).aggregate(s=Sum(field))["s"] or 0


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


# Hand-computed costs of anthropic_console_usage.csv (= anthropic_usage_report.json).
# Sonnet 4.6 3/15 (cache read 0.3, 5m write 3.75); Haiku 4.5 1/5; Opus 4.6 5/25 (read 0.5,
# 1h write 10); batch is half price; web searches (web_search_count / server_tool_use.
# web_search_requests: 12, 7 and 3) $10 per 1,000 = 10,000,000 nano each.
SEARCH_NANO = 10_000_000
CONSOLE = {
    ("2026-03-09", "claude-sonnet-4-6"): nano((1284551, 3), (302118, "3.75"), (8841203, "0.3"), (211874, 15))
    + 12 * SEARCH_NANO,
    ("2026-03-09", "claude-haiku-4-5"): nano((5120334, 1), (402117, 5))
    + nano((2400000, "0.5"), (610000, "2.5")),
    ("2026-03-09", "claude-opus-4-6"): nano((18234, 5), (912004, 10), (21877310, "0.5"), (148221, 25)),
    ("2026-03-10", "claude-sonnet-4-6"): nano((1101977, 3), (288430, "3.75"), (9402113, "0.3"), (198004, 15))
    + 7 * SEARCH_NANO + nano((50211, 3), (12004, 15)),
    ("2026-03-10", "claude-opus-4-6"): nano((25410, 5), (1044873, 10), (30551230, "0.5"), (201447, 25))
    + 3 * SEARCH_NANO,
}
WEB_SEARCH = usd("0.22")  # 22 searches: on the token rows' counts and on the cost exports
CONSOLE_TOTAL = 86_144_875_800  # $86.1448758: tokens $85.9248758 + web search $0.22


def test_hand_totals_add_up():
    assert sum(CONSOLE.values()) == CONSOLE_TOTAL
    # docs/formats.md: the cost file is "unrounded $86.144876" = tokens + web search
    assert usd("86.1448758") == CONSOLE_TOTAL == usd("85.9248758") + 22 * SEARCH_NANO


# --- Anthropic Console usage CSV -------------------------------------------------------------


def test_console_usage_csv_exact_totals_per_model_and_day(project):
    summary = run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    assert summary.files[0].format == "anthropic_console_usage"
    assert (summary.rows_read, summary.records_added, summary.duplicates, summary.rows_rejected) == (7, 7, 0, 0)
    assert summary.cost_nano == CONSOLE_TOTAL
    assert per_day_model(project) == CONSOLE
    assert set(UsageRecord.objects.values_list("ledger", flat=True)) == {LEDGER_BILLED}
    assert set(UsageRecord.objects.values_list("source", flat=True)) == {"anthropic_console"}


def test_console_usage_quirks_quoted_workspace_batch_and_labels(project):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    research = UsageRecord.objects.get(api_key="research-notebooks")
    assert research.metadata["workspace"] == "Research, EU"
    assert (research.input_tokens, research.output_tokens) == (50211, 12004)
    batch = UsageRecord.objects.get(api_key="eval-batch")
    assert batch.batch is True and batch.cost_nano == nano((2400000, "0.5"), (610000, "2.5"))
    # '≤ 200k' is the standard window; an aggregated row never infers long context from its
    # summed tokens (the Opus row has 22.8M prompt tokens in the day).
    assert not UsageRecord.objects.filter(long_context=True).exists()
    assert set(UsageRecord.objects.values_list("requests", flat=True)) == {0}  # not in the export


def test_console_usage_reimport_never_double_counts(project):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    again = run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    assert (again.records_added, again.records_replaced, again.duplicates, again.cost_nano) == (0, 0, 7, 0)
    assert UsageRecord.objects.count() == 7
    assert total(project) == CONSOLE_TOTAL


def test_console_usage_later_export_restates_the_month(project, tmp_path):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    lines = (SAMPLES / "anthropic_console_usage.csv").read_text(encoding="utf-8").splitlines()
    # The later export: 03-10's research row grew, and a new day 03-11 appeared.
    restated = [line.replace("50211,0,0,0,12004", "60211,0,0,0,14004") for line in lines]
    restated.append("2026-03-11,claude-haiku-4-5-20251001,prod-backend,Default,standard,≤ 200k,1000000,0,0,0,0,0,not_available,")
    summary = run_import(project=project, paths=[write(tmp_path, "later.csv", "\n".join(restated) + "\n")])
    assert (summary.records_added, summary.records_replaced, summary.duplicates) == (1, 1, 6)
    assert summary.cost_nano == nano((10000, 3), (2000, 15)) + nano((1000000, 1))
    assert UsageRecord.objects.count() == 8
    assert total(project) == CONSOLE_TOTAL + nano((10000, 3), (2000, 15)) + nano((1000000, 1))


def test_console_usage_hourly_rows(project):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage_hourly.csv"])
    rows = list(UsageRecord.objects.order_by("timestamp").values_list("timestamp", "day", "cost_nano"))
    assert [r[0].isoformat() for r in rows] == ["2026-03-31T02:00:00+00:00", "2026-03-31T03:00:00+00:00"]
    assert [r[2] for r in rows] == [nano((1124832, 1), (254558, 5)), nano((506280, 1), (117816, 5))]


def test_console_usage_2025_layout_without_context_window(project):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage_2025_legacy.csv"])
    # Claude 3.5 Haiku after the Dec-2024 cut: 0.8/4; Sonnet 4 3/15 (w5 3.75, read 0.3);
    # Opus 4 15/75 (w5 18.75, read 1.5); prod-backend's 4 web searches $0.04.
    assert per_day_model(project) == {
        ("2025-06-12", "claude-3-5-haiku"): nano((8, "0.8"), (1, 4)),
        ("2025-06-12", "claude-sonnet-4"): nano((4312, 3), (182204, "3.75"), (1930117, "0.3"), (40218, 15))
        + nano((912330, 3), (88120, 15)) + 4 * SEARCH_NANO,
        ("2025-06-13", "claude-opus-4"): nano((120554, 15), (30112, "18.75"), (402118, "1.5"), (19876, 75)),
    }


def test_console_usage_pre_ttl_layout_single_cache_write_column(project, tmp_path):
    path = write(tmp_path, "old.csv",
                 "usage_date_utc,model_version,api_key,workspace,usage_type,usage_input_tokens_no_cache,"
                 "usage_input_tokens_cache_write,usage_input_tokens_cache_read,usage_output_tokens\n"
                 "2025-03-02,claude-3-7-sonnet-20250219,k,Default,standard,100,2000,30000,400\n")
    run_import(project=project, paths=[path])
    row = UsageRecord.objects.get()
    assert (row.cache_write_5m_tokens, row.cache_write_1h_tokens) == (2000, 0)
    assert row.cost_nano == nano((100, 3), (2000, "3.75"), (30000, "0.3"), (400, 15))


def test_console_long_context_label_and_fast_speed(project, tmp_path):
    header = ("usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
              "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
              "usage_output_tokens,web_search_count,inference_geo,speed,a_column_from_the_future\n")
    path = write(tmp_path, "lc.csv", header
                 + "2026-03-01,claude-opus-4-6,k,Default,standard,> 200k,1000,0,0,0,100,0,global,,x\n"
                 + "2026-03-01,claude-opus-4-6,k,Default,standard,≤ 200k,1000,0,0,0,100,0,global,fast,y\n"
                 + "2026-03-01,claude-opus-4-6,k,Default,standard,≤ 200k,1000,0,0,0,100,0,global,,z\n")
    run_import(project=project, paths=[path])
    rows = {(r.long_context, r.speed): r.cost_nano for r in UsageRecord.objects.all()}
    # Opus 4.6 before 2026-03-13: >200k at 10/37.5; fast mode 6x.
    assert rows == {
        (True, ""): nano((1000, 10), (100, "37.5")),
        (False, "fast"): nano((1000, 30), (100, 150)),
        (False, ""): nano((1000, 5), (100, 25)),
    }


def test_console_cells_other_than_plain_digits_and_a_bad_cell_late_in_the_file(project, tmp_path):
    """Rows of plain digits take a quick path; the others read as every CSV's counts do."""
    header = "usage_date_utc,model_version,api_key,usage_input_tokens_no_cache,usage_output_tokens\n"
    rows = ["2026-03-01,claude-haiku-4-5,k1,1000,10", '2026-03-01,claude-haiku-4-5,k2," 1,000 ",10.0',
            "2026-03-01 ,claude-haiku-4-5,k3,1000,", "2026-03-01,claude-haiku-4-5,k4,1000,10"]
    summary = run_import(project=project, paths=[write(tmp_path, "u.csv", header + "\n".join(rows) + "\n")])
    assert summary.records_added == 4
    assert sorted(UsageRecord.objects.values_list("api_key", "input_tokens", "output_tokens")) == [
        ("k1", 1000, 10), ("k2", 1000, 10), ("k3", 1000, 0), ("k4", 1000, 10)]
    bad = header + "\n".join(rows[:1] * 3000) + "\n2026-03-01,claude-haiku-4-5,k5,1000,²\n"
    with pytest.raises(ImportFailed, match="line 3002, column 'usage_output_tokens': expected a whole number"):
        run_import(project=project, paths=[write(tmp_path, "bad.csv", bad)])
    assert UsageRecord.objects.count() == 4


def test_console_all_zero_rows_are_skipped(project, tmp_path):
    path = write(tmp_path, "z.csv", "usage_date_utc,model_version,usage_input_tokens_no_cache,usage_output_tokens\n"
                 "2026-03-01,claude-haiku-4-5,0,0\n2026-03-01,claude-sonnet-4-6,1,1\n")
    summary = run_import(project=project, paths=[path])
    assert (summary.rows_read, summary.rows_skipped, summary.records_added) == (2, 1, 1)


# --- Anthropic Console cost CSV and the merge --------------------------------------------------


COST_REPORTED = {  # per (day, model), the cost file's rows summed (rounded per row)
    ("2026-03-09", "claude-sonnet-4-6"): usd("3.85") + usd("1.13") + usd("2.65") + usd("3.18") + usd("0.12"),
    ("2026-03-09", "claude-haiku-4-5"): usd("5.12") + usd("2.01") + usd("1.20") + usd("1.53"),
    ("2026-03-09", "claude-opus-4-6"): usd("0.09") + usd("9.12") + usd("10.94") + usd("3.71"),
    ("2026-03-10", "claude-sonnet-4-6"): usd("3.31") + usd("1.08") + usd("2.82") + usd("2.97") + usd("0.07")
    + usd("0.15") + usd("0.18"),
    ("2026-03-10", "claude-opus-4-6"): usd("0.13") + usd("10.45") + usd("15.28") + usd("5.04") + usd("0.03"),
}


def test_console_cost_csv_alone_is_the_bill(project):
    summary = run_import(project=project, paths=[SAMPLES / "anthropic_console_cost.csv"])
    assert summary.files[0].format == "anthropic_console_cost"
    assert summary.rows_read == 25 and summary.records_added == 10  # 7 keys + 3 web-search rows
    assert per_day_model(project) == COST_REPORTED
    assert total(project) == usd("86.16")
    assert total(project, "reported_cost_nano") == usd("86.16")


@pytest.mark.parametrize("order", [("usage", "cost"), ("cost", "usage")])
def test_console_cost_and_usage_exports_never_add_up(project, order):
    files = {"usage": SAMPLES / "anthropic_console_usage.csv", "cost": SAMPLES / "anthropic_console_cost.csv"}
    for name in order:
        run_import(project=project, paths=[files[name]])
    # Billed spend counted once: tokens at our prices, plus web search the tokens can't price.
    assert total(project) == CONSOLE_TOTAL
    assert total(project, "reported_cost_nano") == usd("86.16")
    assert per_day_model(project, field="reported_cost_nano") == COST_REPORTED
    # The 7 token rows count; the 7 matching cost rows keep the bill's amount at cost 0.
    sonnet = UsageRecord.objects.get(day="2026-03-09", model="claude-sonnet-4-6", input_tokens__gt=0)
    assert sonnet.cost_nano == CONSOLE[("2026-03-09", "claude-sonnet-4-6")]
    bill = UsageRecord.objects.get(day="2026-03-09", model="claude-sonnet-4-6", metadata__covers="model")
    assert (bill.cost_nano, bill.reported_cost_nano, bill.metadata["covered"]) == (0, usd("10.81"), True)
    assert UsageRecord.objects.filter(input_tokens__gt=0).count() == 7
    # the 7 token-cost rows and the 3 web search rows (priced from the token rows' counts)
    assert UsageRecord.objects.filter(metadata__covered=True).count() == 10
    assert UsageRecord.objects.count() == 17


def test_console_cost_reimport_after_merge_is_duplicate(project):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    first = run_import(project=project, paths=[SAMPLES / "anthropic_console_cost.csv"])
    # 7 token-cost rows merged onto the token rows, 3 web search rows covered: nothing added
    assert (first.records_merged, first.records_added, first.cost_nano) == (10, 10, 0)
    again = run_import(project=project, paths=[SAMPLES / "anthropic_console_cost.csv"])
    assert (again.records_merged, again.records_added, again.duplicates, again.cost_nano) == (10, 0, 10, 0)
    assert total(project) == CONSOLE_TOTAL


def test_console_cost_2024_layout_display_names_and_batch_rows_without_key(project):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_cost_2024_legacy.csv"])
    assert per_day_model(project) == {
        ("2024-10-28", "claude-3-5-sonnet"): usd("0.20"),
        ("2024-10-29", "claude-3-5-sonnet"): usd("13.72"),
        ("2024-10-29", "claude-3-haiku"): 0,
    }
    batch = UsageRecord.objects.filter(batch=True)
    assert batch.count() == 2 and set(batch.values_list("api_key", flat=True)) == {""}
    assert set(UsageRecord.objects.values_list("metadata__workspace", flat=True)) == {"Default"}


def test_display_names_match_api_ids():
    assert model_key("Claude 3.5 Sonnet 2024-10-22") == "claude-3-5-sonnet"
    assert model_key("Claude Haiku 4.5") == model_key("claude-haiku-4-5-20251001") == "claude-haiku-4-5"
    assert model_key("Claude 3 Haiku") == "claude-3-haiku"


def test_hourly_usage_covers_the_daily_cost_row(project, tmp_path):
    cost = write(tmp_path, "claude_api_cost_2026_03.csv",
                 "usage_date_utc,model,workspace,api_key,usage_type,context_window,token_type,cost_usd,cost_type,inference_geo,speed\n"
                 "2026-03-31,Claude Haiku 4.5,Default,super,message,≤ 200k,input_no_cache,1.63,token,not_available,\n"
                 "2026-03-31,Claude Haiku 4.5,Default,super,message,≤ 200k,output,1.86,token,not_available,\n")
    run_import(project=project, paths=[cost])
    assert total(project) == usd("3.49")
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage_hourly.csv"])
    hourly = nano((1124832, 1), (254558, 5)) + nano((506280, 1), (117816, 5))
    assert total(project) == hourly
    assert total(project, "reported_cost_nano") == usd("3.49")


# --- Anthropic Admin API ------------------------------------------------------------------------


def test_admin_usage_report_same_totals_as_console(project):
    summary = run_import(project=project, paths=[SAMPLES / "anthropic_usage_report.json"])
    assert summary.files[0].format == "anthropic_usage_report"
    assert (summary.records_added, summary.rows_skipped) == (7, 1)  # the empty bucket
    assert per_day_model(project) == CONSOLE
    assert UsageRecord.objects.get(model="claude-sonnet-4-6", day="2026-03-09").web_search_requests == 12


def test_admin_cost_report_amounts_are_cents(project):
    run_import(project=project, paths=[SAMPLES / "anthropic_cost_report.json"])
    got = per_day_model(project)
    # "385.3653" cents = $3.853653: unrounded, so it equals the token cost exactly.
    assert got[("2026-03-09", "claude-sonnet-4-6")] == CONSOLE[("2026-03-09", "claude-sonnet-4-6")] - 12 * SEARCH_NANO
    assert got[("2026-03-09", "web_search")] == usd("0.12")
    assert total(project) == CONSOLE_TOTAL


@pytest.mark.parametrize("order", [("usage", "cost"), ("cost", "usage")])
def test_admin_cost_report_is_covered_by_usage_report(project, order):
    files = {"usage": SAMPLES / "anthropic_usage_report.json", "cost": SAMPLES / "anthropic_cost_report.json"}
    for name in order:
        run_import(project=project, paths=[files[name]])
    assert total(project) == CONSOLE_TOTAL
    assert total(project, "reported_cost_nano") == CONSOLE_TOTAL
    # the 7 token-cost rows and the 3 web search rows (priced from the token rows' counts)
    assert UsageRecord.objects.filter(metadata__covered=True).count() == 10


# --- OpenAI ------------------------------------------------------------------------------------

# gpt-4o-mini 0.15/0.6 (cached 0.075); gpt-5 1.25/10 (cached 0.125); gpt-4.1 2/8.
# input_tokens include cached tokens: uncached = input - cached.
OPENAI = {
    ("2026-03-09", "gpt-4o-mini"): nano((5789342 - 229120, "0.15"), (229120, "0.075"), (106885, "0.6")),
    ("2026-03-09", "gpt-5"): nano((46264 - 8192, "1.25"), (8192, "0.125"), (60000, 10)),
    ("2026-03-10", "gpt-4.1"): nano((1201144, 2), (30211, 8)),
}
FILE_SEARCH = usd("0.000271")


def test_openai_usage_csv_float_counts_false_and_empty_bucket(project):
    summary = run_import(project=project, paths=[SAMPLES / "openai_dashboard_completions_usage_2026-03-09_2026-03-11.csv"])
    assert summary.files[0].format == "openai_usage_csv"
    assert (summary.rows_read, summary.rows_skipped, summary.records_added) == (4, 1, 3)
    assert per_day_model(project) == OPENAI
    assert sum(OPENAI.values()) == usd("4.2079383")
    assert sorted(UsageRecord.objects.values_list("requests", flat=True)) == [8, 611, 4228]
    assert not UsageRecord.objects.filter(batch=True).exists()


def test_openai_usage_api_cache_writes_and_audio_are_their_own_classes(project, tmp_path):
    bucket = {"object": "bucket", "start_time": 1793577600, "end_time": 1793664000, "results": [
        {"object": "organization.usage.completions.result", "model": "gpt-5.6-sol", "num_model_requests": 10,
         "input_tokens": 10_000, "input_cached_tokens": 2000, "input_cache_write_30m_tokens": 1000,
         "input_cache_write_12h_tokens": 2000, "output_tokens": 500},
        {"object": "organization.usage.completions.result", "model": "gpt-4o-mini-audio-preview",
         "num_model_requests": 1, "input_tokens": 1000, "input_cached_tokens": 0, "input_audio_tokens": 600,
         "output_tokens": 100}]}
    path = write(tmp_path, "usage.json", json.dumps({"object": "page", "data": [bucket], "has_more": False}))
    run_import(project=project, paths=[path], format="openai_usage_api")
    sol = UsageRecord.objects.get(model="gpt-5.6-sol")
    assert (sol.input_tokens, sol.cache_read_tokens, sol.cache_write_30m_tokens, sol.cache_write_12h_tokens) == (
        5000, 2000, 1000, 2000)
    # 5000×4 + 2000×0.4 + 1000×5 + 2000×10 + 500×20 (gpt-5.6-sol since 2026-08-21)
    assert sol.cost_nano == nano((5000, 4), (2000, "0.4"), (1000, 5), (2000, 10), (500, 20))
    audio = UsageRecord.objects.get(model="gpt-4o-mini-audio-preview")
    # text 400×0.15 + audio 600×10 + 100×0.6
    assert (audio.input_tokens, audio.audio_input_tokens) == (400, 600)
    assert audio.cost_nano == nano((400, "0.15"), (600, 10), (100, "0.6"))


def test_openai_usage_api_json(project):
    summary = run_import(project=project, paths=[SAMPLES / "openai_usage_completions.json"])
    assert summary.files[0].format == "openai_usage_api"
    assert (summary.records_added, summary.rows_skipped) == (3, 1)
    assert per_day_model(project) == OPENAI


def test_openai_cost_csv_2026_layout_alone(project):
    summary = run_import(project=project, paths=[SAMPLES / "openai_dashboard_cost_2026-03-09_2026-03-11.csv"])
    assert summary.files[0].format == "openai_cost_csv"
    assert summary.rows_skipped == 1 and summary.records_added == 4  # 3 models + file search
    assert total(project) == usd("4.2079383") + FILE_SEARCH


def test_openai_cost_csv_2025_org_level_layout(project):
    run_import(project=project, paths=[SAMPLES / "openai_dashboard_cost_2025_layout.csv"])
    assert total(project) == usd("1.5642333") + usd("2.643976")
    assert UsageRecord.objects.count() == 2


def test_openai_costs_api_dollars(project):
    run_import(project=project, paths=[SAMPLES / "openai_costs.json"])
    assert total(project) == usd("4.2079383") + FILE_SEARCH


@pytest.mark.parametrize("cost_file", [
    "openai_dashboard_cost_2026-03-09_2026-03-11.csv", "openai_costs.json", "openai_dashboard_cost_2025_layout.csv",
])
@pytest.mark.parametrize("cost_first", [False, True])
def test_openai_costs_never_add_to_usage(project, cost_file, cost_first):
    files = [SAMPLES / "openai_dashboard_completions_usage_2026-03-09_2026-03-11.csv", SAMPLES / cost_file]
    for path in reversed(files) if cost_first else files:
        run_import(project=project, paths=[path])
    # org-level totals (2025 layout) count what the tokens don't explain: the file search
    assert total(project) == usd("4.2079383") + FILE_SEARCH
    assert total(project, "reported_cost_nano") == usd("4.2079383") + FILE_SEARCH


def test_openai_usage_csv_and_api_of_the_same_data_and_all_cost_files(project):
    for name in ["openai_usage_completions.json", "openai_costs.json",
                 "openai_dashboard_cost_2026-03-09_2026-03-11.csv", "openai_dashboard_cost_2025_layout.csv"]:
        run_import(project=project, paths=[SAMPLES / name])
    assert total(project) == usd("4.2079383") + FILE_SEARCH


# --- Claude Code --------------------------------------------------------------------------------

CLAUDE_CODE = {
    # Opus 4.6: 1h writes at 10/M; the first response has three lines, output 9, 9, 412.
    ("2026-03-09", "claude-opus-4-6"): nano((3, 5), (24110, 10), (412, 25)) + nano((1, 5), (1877, 10), (24110, "0.5"), (1204, 25)),
    ("2026-03-09", "claude-haiku-4-5"): nano((812, 1), (64, 5)),  # the sidechain
    ("2026-03-10", "claude-sonnet-4-6"): nano((6, 3), (30144, "3.75"), (2210, 15)),
}


def test_claude_code_sessions_dedup_across_files_max_output_and_ttl(project):
    summary = run_import(project=project, paths=[SAMPLES / "claude_code_session.jsonl",
                                                 SAMPLES / "claude_code_session_resumed.jsonl"])
    assert [f.format for f in summary.files] == ["claude_code", "claude_code"]
    # 13 lines: 4 responses, 3 more snapshots of them (one in the resumed file), 6 other lines
    assert (summary.rows_read, summary.records_added, summary.duplicates, summary.rows_skipped) == (13, 4, 3, 6)
    assert per_day_model(project) == CLAUDE_CODE
    assert total(project) == usd("0.459685")  # docs/formats.md §5
    first = UsageRecord.objects.get(external_id="msg_01JmX7c2Vq9TnR4bWz8KpL3e:req_011CYk4Rz7Wq2NvB8mT5pXsJ")
    assert (first.output_tokens, first.cache_write_1h_tokens, first.cache_write_5m_tokens) == (412, 24110, 0)
    assert first.ledger == LEDGER_METERED and first.feature == "-Users-alice-src-costwatch"
    assert first.metadata["session_id"] == "7f3c2a91-5d4e-4b8a-9c61-2e0f8d7b4a13"
    assert not UsageRecord.objects.filter(model="<synthetic>").exists()


def test_claude_code_reimport_and_resumed_file_alone_never_double_count(project):
    run_import(project=project, paths=[SAMPLES / "claude_code_session.jsonl"])
    summary = run_import(project=project, paths=[SAMPLES / "claude_code_session_resumed.jsonl"])
    assert (summary.records_added, summary.duplicates) == (1, 1)
    again = run_import(project=project, paths=[SAMPLES / "claude_code_session.jsonl",
                                               SAMPLES / "claude_code_session_resumed.jsonl"])
    assert (again.records_added, again.duplicates) == (0, 4 + 3)  # stored + repeated snapshots
    assert total(project) == usd("0.459685")


def test_claude_code_zip_of_the_projects_folder(project, tmp_path):
    archive = tmp_path / "claude-projects.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(SAMPLES / "claude_code_session.jsonl", "projects/-Users-alice-src-costwatch/7f3c.jsonl")
        zf.write(SAMPLES / "claude_code_session_resumed.jsonl", "projects/-Users-alice-src-costwatch/b2e8.jsonl")
        zf.writestr("projects/README.txt", "not a log")
    summary = run_import(project=project, paths=[archive])
    assert summary.records_added == 4 and total(project) == usd("0.459685")


def test_claude_code_folder(project, tmp_path):
    folder = tmp_path / "projects" / "-Users-alice-src-costwatch"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLES / "claude_code_session.jsonl", folder / "a.jsonl")
    shutil.copy(SAMPLES / "claude_code_session_resumed.jsonl", folder / "b.jsonl")
    run_import(project=project, paths=[tmp_path / "projects"])
    assert total(project) == usd("0.459685")


def test_claude_code_without_request_id_dedups_by_message_id(project, tmp_path):
    line = ('{"type":"assistant","timestamp":"2026-03-09T10:00:00Z","cwd":"/w","sessionId":"s",'
            '"message":{"id":"msg_gw","model":"claude-haiku-4-5","usage":{"input_tokens":10,"output_tokens":%d}}}\n')
    run_import(project=project, paths=[write(tmp_path, "gw.jsonl", line % 1 + line % 50 + line % 7)])
    row = UsageRecord.objects.get()
    assert (row.external_id, row.output_tokens, row.cost_nano) == ("msg_gw", 50, nano((10, 1), (50, 5)))


def test_claude_code_legacy_cost_usd_kept_as_reported(project):
    run_import(project=project, paths=[SAMPLES / "claude_code_session_legacy_costusd.jsonl"])
    row = UsageRecord.objects.get()
    assert row.reported_cost_nano == usd("0.0134244")
    # Claude 3.7 Sonnet; no cache_creation breakdown: all writes are 5-minute writes.
    assert row.cost_nano == nano((4, 3), (1620, "3.75"), (13908, "0.3"), (211, 15))


# --- generic CSV -------------------------------------------------------------------------------


def test_generic_csv_per_request_and_per_day(project, tmp_path):
    path = write(tmp_path, "mine.csv",
                 "timestamp,model,feature,user,input_tokens,output_tokens,id,extra\n"
                 "2026-03-09T10:00:00Z,gpt-4o-mini,chat,u1,1000,100,r1,x\n"
                 "2026-03-09T11:00:00+01:00,gpt-4o-mini,chat,u2,2000,200,r2,y\n")
    daily = write(tmp_path, "daily.csv", "date,model,ledger,cost_usd,requests\n2026-03-09,my-local-llm,billed,12.50,40\n")
    summary = run_import(project=project, paths=[path, daily])
    assert [f.format for f in summary.files] == ["generic_csv", "generic_csv"]
    metered = UsageRecord.objects.filter(ledger=LEDGER_METERED)
    assert metered.count() == 2 and total(project, ledger=LEDGER_METERED) == nano((3000, "0.15"), (300, "0.6"))
    assert UsageRecord.objects.get(external_id="r2").timestamp.isoformat() == "2026-03-09T10:00:00+00:00"
    billed = UsageRecord.objects.get(ledger=LEDGER_BILLED)
    assert (billed.cost_nano, billed.requests) == (usd("12.50"), 40)


def test_generic_csv_new_classes_tools_and_region(project, tmp_path):
    path = write(tmp_path, "mine.csv",
                 "date,model,input_tokens,cache_write_30m_tokens,cache_write_12h_tokens,output_tokens,"
                 "web_search_requests,region\n"
                 "2026-11-02,gpt-5.4-mini,1000,0,0,100,2,eu\n"
                 "2026-11-02,gpt-5.6-sol,1000,1000,1000,0,0,\n")
    run_import(project=project, paths=[path])
    got = dict(UsageRecord.objects.values_list("model", "cost_nano"))
    # gpt-5.4-mini (1000×0.75 + 100×4.5) × 1.1 regional + 2 searches × $0.01;
    # gpt-5.6-sol 1000×4 + 1000×5 (30m) + 1000×10 (12h)
    assert got == {"gpt-5.4-mini": nano((1000, "0.825"), (100, "4.95")) + usd("0.02"),
                   "gpt-5.6-sol": nano((1000, 4), (1000, 5), (1000, 10))}
    # a row without a region keeps the key it had before regions existed
    assert UsageRecord.objects.get(model="gpt-5.6-sol").external_id == "2026-11-02T00:00:00+00:00|gpt-5.6-sol|openai||||||"


def test_unknown_model_is_unpriced_not_zero(project, tmp_path):
    path = write(tmp_path, "u.csv", "date,model,input_tokens\n2026-03-09,acme-llm-9,1000\n")
    summary = run_import(project=project, paths=[path])
    assert summary.records_unpriced == 1
    assert UsageRecord.objects.get().cost_nano is None


# --- bad input --------------------------------------------------------------------------------


def test_bad_cell_names_file_line_and_column_and_nothing_is_stored(project, tmp_path):
    lines = (SAMPLES / "anthropic_console_usage.csv").read_text(encoding="utf-8").splitlines()
    lines.append("2026-03-11,claude-sonnet-4-6,k,Default,standard,≤ 200k,12x4,0,0,0,5,0,global,")
    path = write(tmp_path, "claude_api_tokens_2026_03.csv", "\n".join(lines) + "\n")
    with pytest.raises(ImportFailed) as err:
        run_import(project=project, paths=[path])
    assert str(err.value) == ("claude_api_tokens_2026_03.csv, line 9, column 'usage_input_tokens_no_cache': "
                              "expected a whole number, got '12x4'")
    assert not UsageRecord.objects.exists()  # the 7 good rows before it were rolled back


def test_bad_file_in_a_multi_file_run_rolls_back_the_others(project, tmp_path):
    bad = write(tmp_path, "bad.jsonl", '{"type":"assistant","timestamp":"2026-03-09T10:00:00Z","message":{"id":"m",\n')
    with pytest.raises(ImportFailed, match=r"bad.jsonl, line 1: not a JSON line"):
        run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv", bad], format="auto")
    assert not UsageRecord.objects.exists()


def test_binary_file_rejected(project, tmp_path):
    path = write(tmp_path, "claude_api_tokens.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ImportFailed, match="claude_api_tokens.csv: this is a binary file"):
        run_import(project=project, paths=[path], format="anthropic_console_usage")


def test_wrong_encoding_rejected(project, tmp_path):
    text = "usage_date_utc,model,workspace,api_key,usage_type,token_type,cost_usd\n2024-10-28,Claude 3 Haiku,,Stéphane,message,output,0.05\n"
    path = write(tmp_path, "latin1.csv", text, encoding="latin-1")
    with pytest.raises(ImportFailed, match="latin1.csv: not UTF-8 text"):
        run_import(project=project, paths=[path])
    assert not UsageRecord.objects.exists()


def test_bom_and_crlf_accepted(project, tmp_path):
    text = (SAMPLES / "anthropic_console_usage.csv").read_text(encoding="utf-8").replace("\n", "\r\n")
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert detect(InputFile("bom.csv", path)) == "anthropic_console_usage"
    run_import(project=project, paths=[path])
    assert total(project) == CONSOLE_TOTAL


def test_missing_column_message(project, tmp_path):
    path = write(tmp_path, "c.csv", "usage_date_utc,model,token_type\n2026-03-01,Claude Haiku 4.5,output\n")
    with pytest.raises(ImportFailed, match=r"c.csv, line 1: not a Anthropic Console cost export: missing column cost_usd"):
        run_import(project=project, paths=[path], format="anthropic_console_cost")


def test_unquoted_comma_in_a_name_is_caught(project, tmp_path):
    lines = (SAMPLES / "anthropic_console_usage.csv").read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace('"Research, EU"', "Research, EU")
    with pytest.raises(ImportFailed, match=r"line 8: expected 14 values like the header, got 15"):
        run_import(project=project, paths=[write(tmp_path, "c.csv", "\n".join(lines))])


def test_file_size_limit(project, tmp_path, settings):
    settings.IMPORT_MAX_FILE_BYTES = 500
    with pytest.raises(ImportFailed, match=r"anthropic_console_usage.csv: 0.0 MB is larger than the import limit"):
        run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])


def test_unrecognised_samples_are_rejected_clearly(project):
    """The per-response samples belong to the ingest API, the price list to billing."""
    for name in ["anthropic_messages_response.json", "anthropic_messages_stream.sse", "openai_chat_completion.json",
                 "openai_response.json", "gemini_generate_content_response.json", "litellm_prices_subset.json",
                 "gcp_billing_export_rows.jsonl"]:
        with pytest.raises(ImportFailed, match=rf"^{name}(, line 1)?: unrecognised"):
            run_import(project=project, paths=[SAMPLES / name])


def test_every_sample_is_covered_by_a_test():
    tested = {
        "anthropic_console_cost.csv", "anthropic_console_cost_2024_legacy.csv", "anthropic_console_usage.csv",
        "anthropic_console_usage_2025_legacy.csv", "anthropic_console_usage_hourly.csv", "anthropic_cost_report.json",
        "anthropic_usage_report.json", "claude_code_session.jsonl", "claude_code_session_legacy_costusd.jsonl",
        "claude_code_session_resumed.jsonl", "openai_costs.json",
        "openai_dashboard_completions_usage_2026-03-09_2026-03-11.csv", "openai_dashboard_cost_2025_layout.csv",
        "openai_dashboard_cost_2026-03-09_2026-03-11.csv", "openai_usage_completions.json",
        "anthropic_messages_response.json", "anthropic_messages_stream.sse", "openai_chat_completion.json",
        "openai_response.json", "gemini_generate_content_response.json", "litellm_prices_subset.json",
        "gcp_billing_export_rows.jsonl",
    }
    assert {p.name for p in SAMPLES.iterdir()} == tested


# --- rollups ---------------------------------------------------------------------------------------


def test_import_rolls_up_the_days(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    with django_capture_on_commit_callbacks(execute=True):
        run_import(project=project, paths=[SAMPLES / "anthropic_console_cost.csv"])
    rolled = DailyModelUsage.objects.filter(project=project, ledger=LEDGER_BILLED)
    assert rolled.aggregate(s=Sum("cost_nano"))["s"] == CONSOLE_TOTAL
    assert rolled.aggregate(s=Sum("reported_cost_nano"))["s"] == usd("86.16")
    day = rolled.filter(day="2026-03-10").aggregate(s=Sum("cost_nano"))["s"]
    # the day's web searches ($0.10) are on its token rows
    assert day == CONSOLE[("2026-03-10", "claude-sonnet-4-6")] + CONSOLE[("2026-03-10", "claude-opus-4-6")]
    assert rolled.filter(day="2026-03-10").aggregate(s=Sum("fees_nano"))["s"] == usd("0.10")


COST_LAYOUTS = {
    "2024-04": "usage_date_utc,model,api_key,usage_type,token_type,cost_usd",
    "2024-10": "usage_date_utc,model,workspace,api_key,usage_type,token_type,cost_usd",
    "2025-12": "usage_date_utc,model,workspace,api_key,usage_type,context_window,token_type,cost_usd,cost_type",
    "2026-03": "usage_date_utc,model,workspace,api_key,usage_type,context_window,token_type,cost_usd,list_price_usd,"
               "cost_type,inference_geo,speed",
    "2026-08": "usage_date_utc,model,workspace,api_key,usage_type,context_window,token_type,cost_usd,list_price_usd,"
               "cost_type,inference_geo,speed,api_key_id,api_key_status",
}


@pytest.mark.parametrize("layout", COST_LAYOUTS)
def test_console_cost_csv_every_layout_merges_onto_the_usage_row(project, tmp_path, layout):
    header = COST_LAYOUTS[layout].split(",")
    values = {"usage_date_utc": "2025-06-12", "model": "Claude Sonnet 4", "workspace": "Default",
              "api_key": "prod-backend", "usage_type": "message", "context_window": "≤ 200k", "cost_type": "token",
              "list_price_usd": "", "inference_geo": "", "speed": "", "api_key_id": "apikey_01", "api_key_status": "active"}
    rows = [",".join({**values, "token_type": t, "cost_usd": c}.get(h, "") for h in header)
            for t, c in [("input_no_cache", "2.74"), ("output", "1.32")]]
    cost = write(tmp_path, "claude_api_cost_2025_06.csv", ",".join(header) + "\n" + "\n".join(rows) + "\n")
    assert detect(InputFile("c", cost)) == "anthropic_console_cost"
    usage = write(tmp_path, "claude_api_tokens_2025_06.csv",
                  "usage_date_utc,model_version,api_key,workspace,usage_type,usage_input_tokens_no_cache,usage_output_tokens\n"
                  "2025-06-12,claude-sonnet-4-20250514,prod-backend,Default,standard,912330,88120\n")
    run_import(project=project, paths=[usage])
    summary = run_import(project=project, paths=[cost])
    assert (summary.records_merged, summary.records_added) == (1, 1)
    row = UsageRecord.objects.get(metadata__has_key="cost_only")
    assert (row.cost_nano, row.reported_cost_nano) == (0, usd("4.06"))  # the bill, rounded per row
    assert total(project) == nano((912330, 3), (88120, 15))  # $4.058790, what the tokens cost


def test_a_key_repeated_in_a_later_chunk_of_one_file_replaces_the_earlier_row(project, tmp_path):
    """A fresh import inserts chunks without looking keys up; a repeat must still replace."""
    lines = ["id,date,model,input_tokens"] + [f"r{i},2026-03-09,claude-haiku-4-5,{i + 1}" for i in range(2500)]
    lines.append("r7,2026-03-09,claude-haiku-4-5,1000000")
    summary = run_import(project=project, paths=[write(tmp_path, "g.csv", "\n".join(lines) + "\n")])
    assert (summary.records_added, summary.records_replaced) == (2500, 1)
    assert UsageRecord.objects.get(external_id="r7").input_tokens == 1_000_000
    assert total(project, "input_tokens") == sum(range(1, 2501)) - 8 + 1_000_000


def test_an_import_is_counted_in_one_shape():
    """ImportSummary's counts are ImportJob's columns, by name."""
    job_columns = {f.name for f in ImportJob._meta.get_fields()}
    summary_fields = set(ImportSummary.__dataclass_fields__)
    assert set(COUNTS) <= job_columns and set(COUNTS) <= summary_fields
    assert summary_fields - set(COUNTS) == {"files", "notes"}
