"""What-if re-pricing on real records and the shipped price table, hand-computed."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from usage.ingest import record_usage
from usage.insights.whatif import ScenarioError, parse_scenario, whatif
from usage.records import Record
from usage.reports.queries import SpendQuery, price_book

DAY = date(2026, 3, 10)
NANO = 1_000_000_000


def rec(i, model, feature, **tokens):
    return Record(external_id=f"w{i}", timestamp=datetime(2026, 3, 10, 12, tzinfo=UTC), model=model,
                  feature=feature, **tokens)


@pytest.fixture
def usage(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            # sonnet 4.5 (under its 200K threshold): 0.1M in × $3 + 0.1M out × $15 = $1.80
            rec(1, "claude-sonnet-4-5", "review", input_tokens=100_000, output_tokens=100_000),
            # haiku 4.5: 2M in × $1 + 1M cache read × $0.10 = $2.10 (uncached $3.00)
            rec(2, "claude-haiku-4-5", "classify", input_tokens=2_000_000, cache_read_tokens=1_000_000),
            # haiku batch: 1M × $1 × 0.5 = $0.50 (interactive $1.00)
            rec(3, "claude-haiku-4-5", "classify", input_tokens=1_000_000, batch=True),
            rec(4, "mystery-llm", "review", input_tokens=5_000),
        ])
    return project


def run(project, **params):
    book = price_book()
    scenario = parse_scenario(resolve=book.resolve, **params)
    result, _ = whatif(SpendQuery(project=project, start=DAY, end=DAY), scenario)
    return result


def usd(nano):
    return Decimal(nano) / NANO


def test_every_request_on_haiku(usage):
    r = run(usage, model="claude-haiku-4-5")
    # review on haiku: 0.1M × $1 + 0.1M × $5 = $0.60; classify already on haiku
    assert (usd(r.actual_nano), usd(r.whatif_nano), usd(r.saving_nano)) == (
        Decimal("4.4"), Decimal("3.2"), Decimal("1.2"))
    assert r.saving_pct == Decimal("27.3")  # 1.20 / 4.40
    assert r.unpriced_records == 1
    review = next(row for row in r.rows if row.feature == "review")
    assert (review.model, review.whatif_model, usd(review.whatif_nano)) == (
        "claude-sonnet-4-5", "claude-haiku-4-5", Decimal("0.6"))


def test_every_request_on_sonnet_keeps_cache_reads_and_batch(usage):
    r = run(usage, scenario="model", model="claude-sonnet-4-5-20250929")
    # classify's prompts (3M, 1M) pass sonnet's 200K threshold: long-context rates, $6/M in,
    # $0.60/M cache read: 2M × 6 + 1M × 0.6 = $12.60; batch 1M × $6 × 0.5 = $3.00
    assert usd(r.whatif_nano) == Decimal("1.8") + Decimal("12.6") + Decimal("3")
    assert usd(r.saving_nano) == Decimal("-13")


def test_no_cache_and_no_batch(usage):
    assert usd(run(usage, scenario="no_cache").whatif_nano) == Decimal("1.8") + 3 + Decimal("0.5")
    assert usd(run(usage, scenario="no_batch").whatif_nano) == Decimal("1.8") + Decimal("2.1") + 1


def test_batch_for_chosen_features(usage):
    r = run(usage, scenario="batch", features="review")
    assert usd(r.whatif_nano) == Decimal("0.9") + Decimal("2.1") + Decimal("0.5")
    # classify's interactive request moves to batch too: $2.10 × 0.5
    assert usd(run(usage, scenario="batch").whatif_nano) == Decimal("0.9") + Decimal("1.05") + Decimal("0.5")


def test_routing_map(usage):
    r = run(usage, route="review:claude-haiku-4-5,classify:gpt-4o-mini")
    # classify on gpt-4o-mini: 2M × $0.15 + 1M cached × $0.075 = $0.375; batch 1M × 0.15 × 0.5
    assert usd(r.whatif_nano) == Decimal("0.6") + Decimal("0.375") + Decimal("0.075")


def test_more_caching_up_to_a_hit_rate(usage):
    r = run(usage, scenario="cache", features="review", hit_rate="0.5")
    # half of review's 100K prompt read from cache: 50K × $3 + 50K × $0.30 + $1.50 out
    assert usd(r.whatif_nano) == Decimal("0.15") + Decimal("0.015") + Decimal("1.5") + Decimal("2.6")


def test_routing_to_a_model_with_a_long_context_threshold_prices_long_prompts_at_its_rates(
        project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            rec(1, "claude-haiku-4-5", "long", input_tokens=250_000),  # $0.25
            rec(2, "claude-haiku-4-5", "short", input_tokens=150_000),  # $0.15
        ])
    r = run(project, model="claude-sonnet-4-5")
    # 250K > sonnet's 200K threshold: whole request at $6/M = $1.50; 150K at $3/M = $0.45
    assert usd(r.whatif_nano) == Decimal("1.95")


def test_bad_scenarios_name_the_parameter(db):
    book = price_book()
    with pytest.raises(ScenarioError, match="model: no price for 'gpt-99'"):
        parse_scenario(model="gpt-99", resolve=book.resolve)
    with pytest.raises(ScenarioError, match="route: 'review'"):
        parse_scenario(route="review", resolve=book.resolve)
    with pytest.raises(ScenarioError, match="scenario: expected one of"):
        parse_scenario(scenario="cheaper", resolve=book.resolve)
