"""Recommendations: each saving hand-computed from the what-if engine's rules."""

from datetime import UTC, date, datetime

import pytest

from usage.ingest import record_usage
from usage.insights.recommend import cheaper_sibling, recommend
from usage.records import Record
from usage.reports.queries import SpendQuery, price_book

NANO = 1_000_000_000
DAY = date(2026, 3, 10)


@pytest.fixture
def usage(project, django_capture_on_commit_callbacks):
    records = []
    for i in range(10):
        # review: sonnet, an end user, midday: 0.1M in × $3 + 10K out × $15 = $0.45 each
        records.append(Record(external_id=f"r{i}", timestamp=datetime(2026, 3, 10, 12, i, tzinfo=UTC),
                              model="claude-sonnet-4-5", feature="review", end_user="u1",
                              input_tokens=100_000, output_tokens=10_000))
        # nightly: haiku, no end user, 3 AM: 1M in × $1 = $1 each
        records.append(Record(external_id=f"n{i}", timestamp=datetime(2026, 3, 10, 3, i, tzinfo=UTC),
                              model="claude-haiku-4-5", feature="nightly", input_tokens=1_000_000))
    # tiny: $0.45 on sonnet; haiku would save $0.30, under the $1 minimum
    records.append(Record(external_id="t", timestamp=datetime(2026, 3, 10, 12, tzinfo=UTC), model="claude-sonnet-4-5",
                          feature="tiny", end_user="u2", input_tokens=100_000, output_tokens=10_000))
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=records)
    return project


def test_cheaper_sibling(db):
    resolve = price_book().resolve
    assert cheaper_sibling("claude-opus-4-5", resolve) == "claude-sonnet-4-5"
    assert cheaper_sibling("claude-sonnet-4-5", resolve) == "claude-haiku-4-5"
    assert cheaper_sibling("gpt-5", resolve) == "gpt-5-mini"
    assert cheaper_sibling("gpt-5-mini", resolve) == "gpt-5-nano"
    assert cheaper_sibling("claude-haiku-4-5", resolve) is None


def test_ranked_with_savings_by_hand(usage):
    found, ledger = recommend(SpendQuery(project=usage, start=DAY, end=DAY))
    assert [(r.kind, r.feature, r.saving_nano) for r in found] == [
        # nightly at an 80 % hit rate: 0.2M × $1 + 0.8M × $0.10 = $0.28 instead of $1, × 10
        ("cache", "nightly", 7_200_000_000),
        # nightly through the Batch API: half of $10
        ("batch", "nightly", 5 * NANO),
        # review on haiku: 0.1M × $1 + 10K × $5 = $0.15 instead of $0.45, × 10
        ("model", "review", 3 * NANO),
        # review at 80 %: 20K × $3 + 80K × $0.30 + $0.15 out = $0.234 instead of $0.45, × 10
        ("cache", "review", 2_160_000_000),
    ]
    assert found[2].title == "review on claude-sonnet-4-5 would cost less on claude-haiku-4-5"
    assert found[2].params == {"scenario": "route", "route": "review:claude-haiku-4-5"}
    assert found[1].actual_nano == 10 * NANO


def test_page_and_api(usage, logged_in, api_client):
    html = logged_in.get(f"/p/{usage.slug}/insights/recommendations/?range=custom&start=2026-03-10&end=2026-03-10").content.decode()
    assert html.count('data-testid="recommendation"') == 4
    assert "nightly runs at night with no end user — the Batch API would save $5.00" in html
    assert "scenario=batch&amp;features=nightly" in html
    body = api_client.get("/api/v1/recommendations?start=2026-03-10&end=2026-03-10").json()
    assert [r["saving_usd"] for r in body["recommendations"]] == [
        "7.200000000", "5.000000000", "3.000000000", "2.160000000"]
    assert body["recommendations"][1]["evidence_url"] == (
        "/p/acme/insights/whatif/?range=custom&start=2026-03-10&end=2026-03-10&scenario=batch&features=nightly")
