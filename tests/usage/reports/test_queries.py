"""The dashboard's read side: pure summaries and the rollup tables each query reads."""

from datetime import date, timedelta

import pytest

from billing.pricing.classes import METRICS
from usage.models import DailyModelUsage, DailyUsage
from usage.reports.queries import (
    SpendQuery,
    by_day,
    class_costs,
    month_summary,
    range_summary,
    rollup_queryset,
    spend,
)
from usage.web.filters import Filters, range_bounds

NANO = 1_000_000_000


def test_month_summary_compares_the_same_point_last_month_and_projects():
    today = date(2026, 3, 10)
    daily = {date(2026, 3, d): 2 * NANO for d in range(1, 11)}  # $2 a day in March
    daily |= {date(2026, 2, d): NANO for d in range(1, 29)}  # $1 a day in February
    out = month_summary(daily, today=today)
    assert out["mtd_nano"] == 20 * NANO
    assert (out["prev_start"], out["prev_end"]) == (date(2026, 2, 1), date(2026, 2, 10))
    assert out["prev_nano"] == 10 * NANO
    assert out["change"] == 1.0
    # the one forecast: $18 through Mar 9, today at max(today's $2, the rate), 21 more days at
    # the rate = the trimmed mean of the complete days Mar 1–9 ($2)
    assert out["projected_nano"] == 62 * NANO
    assert out["run_rate_nano"] == 2 * NANO


def test_month_summary_clamps_the_same_point_to_a_shorter_month():
    out = month_summary({date(2026, 2, 28): NANO}, today=date(2026, 3, 31))
    assert out["prev_end"] == date(2026, 2, 28)
    assert out["prev_nano"] == NANO
    assert out["change"] == -1.0


def test_range_summary_finds_cheapest_and_dearest_day():
    days = [{"day": date(2026, 1, d), "cost_nano": c} for d, c in [(1, 5), (2, 1), (3, 9), (4, 1)]]
    out = range_summary(days)
    assert out["avg_nano"] == 4
    assert out["min"]["day"] == date(2026, 1, 2)
    assert out["max"]["day"] == date(2026, 1, 3)


def test_by_day_fills_gaps_with_zeros():
    rows = [{"day": date(2026, 1, 2), "model": "m", **dict.fromkeys(METRICS, 0), "cost_nano": 7, "requests": 1}]
    days = by_day(rows, date(2026, 1, 1), date(2026, 1, 3))
    assert [(d["day"].day, d["cost_nano"]) for d in days] == [(1, 0), (2, 7), (3, 0)]


@pytest.mark.django_db
def test_class_costs_split_scaled_to_actual_cost():
    # sonnet 4.5 list rates: in 3, out 15, read 0.3, write-5m 3.75 per M
    row = {"day": date(2026, 1, 5), "model": "claude-sonnet-4-5", **dict.fromkeys(METRICS, 0),
           "input_tokens": 100_000, "output_tokens": 100_000, "cache_write_5m_tokens": 100_000}
    listed = 0.3 + 1.5 + 0.375
    full = class_costs([{**row, "cost_nano": int(listed * NANO)}])
    assert full["output_tokens"] == pytest.approx(1.5 * NANO, abs=2)
    assert full["write_premium"] == pytest.approx(0.075 * NANO, abs=2)
    # a batch row costs half: every class, and the premium, scale with it
    half = class_costs([{**row, "cost_nano": int(listed * NANO / 2)}])
    assert half["output_tokens"] == pytest.approx(0.75 * NANO, abs=2)
    unknown = class_costs([{**row, "model": "nope", "cost_nano": 5}])
    assert sum(unknown.values()) == 0
    # tool fees are their own class, as they are; the token classes share the rest
    tools = class_costs([{**row, "cost_nano": int(listed * NANO) + 30_000_000, "fees_nano": 30_000_000}])
    assert tools["fees_nano"] == 30_000_000
    assert tools["output_tokens"] == pytest.approx(1.5 * NANO, abs=2)
    # an unknown model's fees are still Tools
    assert class_costs([{**row, "model": "nope", "cost_nano": 5, "fees_nano": 5}])["fees_nano"] == 5


@pytest.mark.django_db
def test_top_level_queries_read_the_coarse_rollup(project):
    q = SpendQuery(project=project, start=date(2026, 1, 1), end=date(2026, 1, 2), ledger="metered",
                   group_by=["day", "provider", "model"])
    assert rollup_queryset(q)[0].model is DailyModelUsage
    q.filters = {"feature": "chat"}
    assert rollup_queryset(q)[0].model is DailyUsage


@pytest.mark.django_db
def test_spend_api_shape_is_unchanged(project):
    rows, total, ledger = spend(SpendQuery(project=project, start=date(2026, 1, 1),
                                           end=date(2026, 1, 2), group_by=["model"]))
    assert rows == [] and total["cost_nano"] == 0 and ledger == "metered"


def test_range_presets():
    today = date(2026, 3, 15)
    assert range_bounds("7d", today) == (date(2026, 3, 9), today)
    assert range_bounds("30d", today) == (today - timedelta(days=29), today)
    assert range_bounds("90d", today) == (today - timedelta(days=89), today)
    assert range_bounds("month", today) == (date(2026, 3, 1), today)
    assert range_bounds("last_month", today) == (date(2026, 2, 1), date(2026, 2, 28))


@pytest.mark.django_db
def test_filters_from_query_string(rf, project):
    today = date(2026, 3, 15)
    f = Filters.from_request(rf.get("/", {"range": "custom", "start": "2026-03-10",
                                          "end": "2026-03-01", "ledger": "billed",
                                          "feature": "chat", "bogus": "x"}), project, today=today)
    assert (f.start, f.end) == (date(2026, 3, 1), date(2026, 3, 10))  # swapped into order
    assert f.ledger == "billed" and f.dims == {"feature": "chat"}
    assert f.query(by="user") == ("?range=custom&start=2026-03-01&end=2026-03-10&ledger=billed"
                                  "&feature=chat&by=user")
    assert f.chips()[0]["remove"] == "?range=custom&start=2026-03-01&end=2026-03-10&ledger=billed"
    # unknown range -> the default; no ledger -> default_ledger() and not in the URL
    f = Filters.from_request(rf.get("/", {"range": "forever"}), project, today=today)
    assert (f.range, f.start, f.end, f.ledger) == ("30d", date(2026, 2, 14), today, "metered")
    assert f.query() == "?"
    # a bad date falls back instead of failing
    f = Filters.from_request(rf.get("/", {"start": "yesterday"}), project, today=today)
    assert f.range == "30d" and f.end == today
