"""Each pricing rule with a hand-computed expectation (rates from billing/pricing/data/prices.csv)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.pricing.models import ModelPrice
from billing.pricing.money import nano_to_usd, usd_to_nano
from billing.pricing.rates import PriceBook, Tokens, cost
from usage.ingest import record_usage
from usage.models import DailyUsage, UsageRecord
from usage.pricing_jobs import reprice
from usage.records import Record, normalize_usage

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 11, 2, 12, tzinfo=UTC)


def price(model, *, when=WHEN, **kw):
    book = PriceBook.load()
    rates = book.rates_at(model, when)
    assert rates is not None, model
    tokens = {k: kw.pop(k) for k in list(kw) if k in Tokens.__dataclass_fields__}
    return cost(Tokens(**tokens), rates, **kw)


def test_anthropic_input_excludes_cache_and_ttl_writes_are_priced_apart():
    tokens, provider = normalize_usage({
        "input_tokens": 1000, "cache_read_input_tokens": 10_000, "cache_creation_input_tokens": 5000,
        "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 3000},
        "output_tokens": 500,
    })
    assert provider == "anthropic"
    assert tokens["input_tokens"] == 1000 and tokens["cache_read_tokens"] == 10_000
    assert tokens["cache_write_5m_tokens"] == 2000 and tokens["cache_write_1h_tokens"] == 3000
    c = price("claude-sonnet-4-5", input=1000, cache_read=10_000, cache_write_5m=2000,
              cache_write_1h=3000, output=500)
    # $3/M input: 1000×3 + 10000×0.30 + 2000×3.75 (1.25×) + 3000×6 (2×) + 500×15 = 39,000 µ$
    assert c.cost_nano == 39_000_000
    # Without caching every prompt token is plain input: 16000×3 + 500×15 = 55,500 µ$
    assert c.no_cache_nano == 55_500_000


def test_anthropic_cache_creation_without_breakdown_is_5m():
    tokens, _ = normalize_usage({"input_tokens": 10, "cache_creation_input_tokens": 400, "output_tokens": 1})
    assert tokens["cache_write_5m_tokens"] == 400 and tokens["cache_write_1h_tokens"] == 0


def test_openai_chat_prompt_tokens_include_cached_tokens():
    tokens, provider = normalize_usage({
        "prompt_tokens": 2318, "completion_tokens": 96, "total_tokens": 2414,
        "prompt_tokens_details": {"cached_tokens": 1920},
        "completion_tokens_details": {"reasoning_tokens": 0},
    })
    assert provider == "openai"
    assert tokens == {"input_tokens": 398, "cache_read_tokens": 1920, "output_tokens": 96, "reasoning_tokens": 0}
    # gpt-4o: 398×2.50 + 1920×1.25 + 96×10 = 995 + 2400 + 960 = 4,355 µ$
    assert price("gpt-4o-2024-08-06", input=398, cache_read=1920, output=96).cost_nano == 4_355_000


def test_openai_responses_reasoning_tokens_are_output():
    tokens, _ = normalize_usage({
        "input_tokens": 5120, "input_tokens_details": {"cached_tokens": 4096},
        "output_tokens": 1830, "output_tokens_details": {"reasoning_tokens": 1536}, "total_tokens": 6950,
    })
    assert tokens == {"input_tokens": 1024, "cache_read_tokens": 4096, "output_tokens": 1830, "reasoning_tokens": 1536}
    # gpt-5: 1024×1.25 + 4096×0.125 + 1830×10 = 1280 + 512 + 18300 = 20,092 µ$
    assert price("gpt-5", input=1024, cache_read=4096, output=1830).cost_nano == 20_092_000


def test_batch_discount_stacks_with_cache_prices():
    c = price("claude-haiku-4-5-20251001", input=1000, cache_read=3072, output=20, batch=True)
    # Haiku 4.5 $1/M: (1000×1 + 3072×0.10 + 20×5) × 0.5 = 1407.2 × 0.5 = 703.6 µ$
    assert c.cost_nano == 703_600
    assert c.no_batch_nano == 1_407_200
    # no caching, still batch: (4072×1 + 20×5) × 0.5 = 2086 µ$
    assert c.no_cache_nano == 2_086_000


def test_long_context_prices_the_whole_request_past_200k_prompt_tokens():
    at_limit = price("claude-sonnet-4-5", input=200_000, output=1000)
    assert at_limit.cost_nano == 615_000_000 and not at_limit.long_context  # 200000×3 + 1000×15
    over = price("claude-sonnet-4-5", input=150_000, cache_read=60_000, output=1000)
    # 210K prompt: 150000×6 + 60000×0.60 + 1000×22.50 = 900000 + 36000 + 22500 µ$
    assert over.long_context and over.cost_nano == 958_500_000
    batch = price("claude-sonnet-4-5", input=150_000, cache_read=60_000, output=1000, batch=True)
    assert batch.cost_nano == 479_250_000


def test_models_without_long_context_pricing_stay_at_standard_rates():
    assert price("claude-haiku-4-5", input=300_000).cost_nano == 300_000_000


def test_prices_are_effective_dated():
    before = price("o3", when=date(2025, 6, 1), input=1_000_000)
    after = price("o3", when=date(2025, 6, 11), input=1_000_000)
    assert (before.cost_nano, after.cost_nano) == (10_000_000_000, 2_000_000_000)


def test_priority_tier_and_fast_mode_have_their_own_rates():
    assert price("gpt-4o", input=1_000_000, service_tier="priority").cost_nano == 4_250_000_000
    assert price("claude-opus-4-6", input=1_000_000, speed="fast").cost_nano == 30_000_000_000
    # OpenAI flex is billed at batch prices.
    assert price("gpt-5", input=1_000_000, service_tier="flex").cost_nano == 625_000_000


@pytest.mark.parametrize("name,canonical", [
    ("Claude Sonnet 4.5", "claude-sonnet-4-5"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("Claude 3.5 Sonnet 2024-10-22", "claude-3-5-sonnet"),
    ("gemini/gemini-2.5-pro", "gemini-2.5-pro"),
    ("deepseek-chat", "deepseek-chat"),
])
def test_aliases_resolve(name, canonical):
    assert PriceBook.load().resolve(name) == canonical


def test_money_is_exact_nano_usd():
    assert usd_to_nano("0.000000001") == 1
    assert nano_to_usd(1) == Decimal("0.000000001")
    # one gpt-4o-mini cached token: $0.075/M = 75 nano-USD, no float anywhere
    assert price("gpt-4o-mini", cache_read=1).cost_nano == 75


def test_unknown_model_is_unpriced_not_zero_then_priced_once_a_price_exists(
    project, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        counts = record_usage(project=project, source="api", records=[
            Record(external_id="u1", timestamp=WHEN, model="acme-llm-7b", input_tokens=1_000_000, output_tokens=1_000_000),
        ])
    assert counts.unpriced == 1 and counts.cost_nano == 0
    row = UsageRecord.objects.get(external_id="u1")
    assert row.cost_nano is None
    daily = DailyUsage.objects.get(project=project, model="acme-llm-7b")
    assert daily.unpriced_records == 1 and daily.cost_nano == 0

    ModelPrice.objects.create(model="acme-llm-7b", provider="self-hosted", effective_from=date(2026, 1, 1),
                              input=Decimal("0.20"), output=Decimal("0.60"), is_custom=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert reprice(only_unpriced=True) == 1
    row.refresh_from_db()
    assert row.cost_nano == 800_000_000  # 1M × 0.20 + 1M × 0.60 = $0.80
    daily = DailyUsage.objects.get(project=project, model="acme-llm-7b")
    assert (daily.unpriced_records, daily.cost_nano) == (0, 800_000_000)
