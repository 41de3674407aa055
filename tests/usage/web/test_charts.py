"""Figures are plain Plotly dicts built from rows."""

import json
from datetime import date

from usage.web.charts import cumulative_vs_budget, ranked_bars, stacked_daily

NANO = 1_000_000_000


def test_stacked_daily_keeps_top_series_and_folds_the_rest_into_other():
    rows = [{"day": date(2026, 1, 1), "model": f"m{i}", "cost_nano": (i + 1) * NANO} for i in range(4)]
    fig = stacked_daily(rows, key="model", start=date(2026, 1, 1), end=date(2026, 1, 2), top=2)
    assert [t["name"] for t in fig["data"]] == ["m3", "m2", "other"]
    assert fig["data"][2]["y"] == [3.0, 0.0]  # m0 + m1 on day 1, nothing on day 2
    assert fig["data"][0]["x"] == ["2026-01-01", "2026-01-02"]
    json.dumps(fig)  # serializable for json_script


def test_cumulative_vs_budget_runs_to_today_and_projects_to_month_end():
    days = [{"day": date(2026, 1, d), "cost_nano": NANO} for d in range(1, 11)]
    fig = cumulative_vs_budget(days, month_start=date(2026, 1, 1), month_end=date(2026, 1, 31),
                               today=date(2026, 1, 10), budget_nano=40 * NANO, projected_nano=31 * NANO)
    spend, projected, budget = fig["data"]
    assert spend["y"] == [float(i) for i in range(1, 11)]
    assert projected["x"] == ["2026-01-10", "2026-01-31"] and projected["y"] == [10.0, 31.0]
    assert budget["y"] == [40.0, 40.0]


def test_ranked_bars_put_the_largest_on_top():
    rows = [{"feature": "a", "cost_nano": 3 * NANO}, {"feature": "", "cost_nano": NANO}]
    fig = ranked_bars(rows, key="feature")
    assert fig["data"][0]["y"] == ["(none)", "a"]  # plotly draws the last category on top
    assert fig["data"][0]["x"] == [1.0, 3.0]


def test_stacked_daily_merges_a_given_other_series_once():
    rows = [{"day": date(2026, 1, 1), "user": "a", "cost_nano": NANO},
            {"day": date(2026, 1, 1), "user": "b", "cost_nano": NANO},
            {"day": date(2026, 1, 1), "user": "other", "cost_nano": 5 * NANO}]
    fig = stacked_daily(rows, key="user", start=date(2026, 1, 1), end=date(2026, 1, 1), top=1)
    assert [t["name"] for t in fig["data"]] == ["a", "other"]
    assert fig["data"][1]["y"] == [6.0]


def test_names_are_escaped_for_plotly_but_kept_raw_for_drill_down():
    rows = [{"day": date(2026, 1, 1), "feature": '<a href="https://evil">x</a>', "cost_nano": NANO}]
    trace = stacked_daily(rows, key="feature", start=date(2026, 1, 1), end=date(2026, 1, 1))["data"][0]
    assert trace["name"] == '&lt;a href="https://evil"&gt;x&lt;/a&gt;'
    assert trace["meta"] == '<a href="https://evil">x</a>'
    assert "<a" not in trace["hovertemplate"]
    bars = ranked_bars([{**rows[0]}], key="feature")["data"][0]
    assert bars["y"] == ['&lt;a href="https://evil"&gt;x&lt;/a&gt;']
