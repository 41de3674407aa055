"""Today's pricing rules, each with a hand-computed expectation from the shipped catalog
(billing/pricing/data/prices.csv; rates in USD per million tokens, 1 token at $1/M = 1,000 nano)."""

from datetime import UTC, date, datetime

import pytest
from anthropic.types import Usage as AnthropicUsage
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from billing.pricing.rates import PriceBook, Tokens, Unpriced, cost
from usage.ingest import record_usage
from usage.models import UsageRecord
from usage.records import Record, normalize_usage

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 11, 2, 12, tzinfo=UTC)
MICRO = 1000  # nano-USD per µ$


def price(model, *, when=WHEN, **kw):
    rates = PriceBook.load().rates_at(model, when)
    assert rates is not None, model
    tokens = {k: kw.pop(k) for k in list(kw) if k in Tokens.__dataclass_fields__}
    return cost(Tokens(**tokens), rates, when=when, **kw)


@pytest.mark.parametrize("model", [
    "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "gpt-5.4-mini", "gpt-5.6-sol", "gpt-5.6-terra",
    "gpt-5.6-luna", "gpt-6-sol", "gpt-6-luna", "gpt-5.3-codex", "gemini-3-flash-preview", "gemini-3.5-flash",
    "gemini-3.1-pro-preview", "deepseek-v4-pro", "deepseek-v4-flash",
])
def test_todays_models_are_priced_offline(model):
    assert PriceBook.load().rates_at(model, WHEN) is not None


def test_sonnet_5_5_list_price():
    # $2 in / $10 out / $0.10 cache read: 1000×2 + 1000×0.1 + 100×10 = 3,100 µ$
    assert price("claude-sonnet-5-5", input=1000, cache_read=1000, output=100).cost_nano == 3_100 * MICRO


def test_haiku_5_5_tier_above_100k_prompt_includes_cache_and_prices_the_whole_request():
    # prompt 60,000 + 30,000 read + 20,000 write = 110,000 > 100K: tier rates 0.5 / 0.05 / 0.625 / 2.5
    c = price("claude-haiku-5-5", input=60_000, cache_read=30_000, cache_write_5m=20_000, output=1000)
    assert c.long_context and c.cost_nano == (30_000 + 1_500 + 12_500 + 2_500) * MICRO
    # exactly 100,000 is not above: 50,000×0.1 + 30,000×0.01 + 20,000×0.125 + 1000×0.5
    c = price("claude-haiku-5-5", input=50_000, cache_read=30_000, cache_write_5m=20_000, output=1000)
    assert not c.long_context and c.cost_nano == (5_000 + 300 + 2_500 + 500) * MICRO


def test_gpt_6_sol_tier_above_272k():
    # 300,000 input > 272K: 4 in / 15 out -> 1,200,000 + 15,000 µ$
    assert price("gpt-6-sol", input=300_000, output=1000).cost_nano == 1_215_000 * MICRO


def test_openai_responses_cache_writes_30m_and_12h_are_their_own_classes():
    usage = ResponseUsage(
        input_tokens=10_000, output_tokens=500, total_tokens=10_500,
        input_tokens_details={"cached_tokens": 2000, "cache_write_tokens": 3000,
                              "cache_write_tokens_details": {"ttl_30m_tokens": 1000, "ttl_12h_tokens": 2000}},
        output_tokens_details={"reasoning_tokens": 100},
    ).model_dump()
    tokens, provider = normalize_usage(usage)
    assert provider == "openai"
    # uncached = input − cached − cache_write
    assert tokens["input_tokens"] == 5000 and tokens["cache_read_tokens"] == 2000
    assert (tokens["cache_write_30m_tokens"], tokens["cache_write_12h_tokens"]) == (1000, 2000)
    assert "cache_write_5m_tokens" not in tokens and "cache_write_1h_tokens" not in tokens
    # gpt-5.6-sol since 2026-08-21: 5000×4 + 2000×0.4 + 1000×5 (30m, 1.25×) + 2000×10 (12h, 2.5×) + 500×20
    c = price("gpt-5.6-sol", input=5000, cache_read=2000, cache_write_30m=1000, cache_write_12h=2000, output=500)
    assert c.cost_nano == (20_000 + 800 + 5_000 + 20_000 + 10_000) * MICRO


def test_openai_chat_cache_writes_without_details_are_30m():
    usage = CompletionUsage(prompt_tokens=10_000, completion_tokens=10, total_tokens=10_010,
                            prompt_tokens_details={"cached_tokens": 2000, "cache_write_tokens": 3000}).model_dump()
    tokens, _ = normalize_usage(usage)
    assert tokens["input_tokens"] == 5000
    assert tokens["cache_write_30m_tokens"] == 3000 and "cache_write_12h_tokens" not in tokens


def test_anthropic_sdk_usage_object():
    usage = AnthropicUsage(input_tokens=1000, output_tokens=100, cache_read_input_tokens=2000,
                           cache_creation_input_tokens=400).model_dump()
    tokens, provider = normalize_usage(usage)
    assert provider == "anthropic" and tokens["cache_write_5m_tokens"] == 400
    # Opus 5.5: 1000×4 + 2000×0.2 + 400×5 + 100×20 = 8,400 µ$
    assert price("claude-opus-5-5", input=1000, cache_read=2000, cache_write_5m=400, output=100).cost_nano == (
        8_400 * MICRO)


def test_fast_is_priority_and_a_missing_tier_is_unpriced():
    # gpt-5.4-mini priority 1.5 / 9: 1000×1.5 + 100×9 = 2,400 µ$, "fast" the same (renamed 2026-07-30)
    assert price("gpt-5.4-mini", input=1000, output=100, service_tier="priority").cost_nano == 2_400 * MICRO
    assert price("gpt-5.4-mini", input=1000, output=100, service_tier="fast").cost_nano == 2_400 * MICRO
    # flex = batch rates: (750 + 450) / 2
    assert price("gpt-5.4-mini", input=1000, output=100, service_tier="flex").cost_nano == 600 * MICRO
    with pytest.raises(Unpriced):
        price("gpt-5-nano", input=1000, output=100, service_tier="priority")
    with pytest.raises(Unpriced):
        price("gpt-5.4-mini", input=1000, output=100, service_tier="scale")


def test_before_a_models_first_price_row_is_unpriced():
    assert PriceBook.load().rates_at("gpt-4.1", date(2025, 4, 13)) is None
    assert PriceBook.load().rates_at("gpt-4.1", date(2025, 4, 14)) is not None


def test_deepseek_v4_peak_hours_cost_double():
    # off-peak 0.66 / 0.022 / 1.98: 1000 miss + 1000 hit + 1000 out = 660 + 22 + 1980 = 2,662 µ$
    usage = {"prompt_tokens": 2000, "completion_tokens": 1000, "total_tokens": 3000,
             "prompt_cache_hit_tokens": 1000, "prompt_cache_miss_tokens": 1000}
    tokens, provider = normalize_usage(usage)
    assert provider == "deepseek" and (tokens["input_tokens"], tokens["cache_read_tokens"]) == (1000, 1000)
    off = price("deepseek-v4-pro", input=1000, cache_read=1000, output=1000)
    assert off.cost_nano == 2_662 * MICRO
    for peak in (datetime(2026, 11, 2, 2, 30, tzinfo=UTC), datetime(2026, 11, 2, 9, 59, tzinfo=UTC)):
        assert price("deepseek-v4-pro", when=peak, input=1000, cache_read=1000, output=1000).cost_nano == 5_324 * MICRO
    assert price("deepseek-v4-pro", when=datetime(2026, 11, 2, 10, 0, tzinfo=UTC), input=1000, cache_read=1000,
                 output=1000).cost_nano == 2_662 * MICRO


def test_deepseek_2025_off_peak_discount_wraps_midnight():
    # deepseek-chat 0.27 / 1.10, 50 % off 16:30-00:30 UTC: 270 + 1100 = 1,370 µ$, off-peak 685
    for at, expected in [((12, 0), 1370), ((16, 30), 685), ((0, 15), 685), ((0, 30), 1370)]:
        when = datetime(2025, 3, 1, *at, tzinfo=UTC)
        assert price("deepseek-chat", when=when, input=1000, output=1000).cost_nano == expected * MICRO
    # after 2025-09-05 no discount: 0.56 / 1.68 -> 2,240 µ$ at 17:00
    assert price("deepseek-chat", when=datetime(2025, 9, 10, 17, tzinfo=UTC), input=1000,
                 output=1000).cost_nano == 2_240 * MICRO


def test_gemini_batch_keeps_the_standard_cache_price():
    # gemini-3-flash-preview batch: 1000×0.5/2 + 10,000×0.05 (standard) + 1000×3/2 = 250 + 500 + 1500
    c = price("gemini-3-flash-preview", input=1000, cache_read=10_000, output=1000, batch=True)
    assert c.cost_nano == 2_250 * MICRO
    # Anthropic batch halves the cache read too: Sonnet 5.5 (2000 + 100 + 1000) / 2
    assert price("claude-sonnet-5-5", input=1000, cache_read=1000, output=100, batch=True).cost_nano == 1_550 * MICRO


@pytest.mark.parametrize("name, canonical", [
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
    ("global.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5"),
    ("claude-opus-4-1@20250805", "claude-opus-4-1"),
    ("openrouter/anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("openrouter/openai/gpt-5.4-mini", "gpt-5.4-mini"),
    ("claude-opus-4-6[1m]", "claude-opus-4-6"),
    ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
    ("chatgpt-4o-latest", "chatgpt-4o-latest"),
    ("gpt-5.3-codex", "gpt-5.3-codex"),
])
def test_aliases(name, canonical):
    assert PriceBook.load().resolve(name) == canonical


def test_fast_suffix_applies_the_fast_rate_on_ingest(project):
    record_usage(project=project, source="api", records=[
        Record(external_id="f1", timestamp=WHEN, model="claude-opus-4-8-fast", input_tokens=1000, output_tokens=1000),
    ])
    row = UsageRecord.objects.get(external_id="f1")
    # Opus 4.8 5 / 25, fast ×2: (5000 + 25000) × 2 = 60,000 µ$
    assert (row.speed, row.priced_model, row.cost_nano) == ("fast", "claude-opus-4-8", 60_000 * MICRO)


def test_api_prices_today_models_from_real_sdk_usage_objects(api_client, django_capture_on_commit_callbacks):
    events = [
        # Sonnet 5.5: 1000×2 + 2000×0.1 + 400×2.5 + 100×10 = 4,200 µ$
        {"id": "a1", "model": "claude-sonnet-5-5", "timestamp": "2026-11-02T12:00:00Z",
         "usage": AnthropicUsage(input_tokens=1000, output_tokens=100, cache_read_input_tokens=2000,
                                 cache_creation_input_tokens=400).model_dump()},
        # GPT-5.4 mini chat: (1000 − 200)×0.75 + 200×0.075 + 100×4.5 = 600 + 15 + 450 = 1,065 µ$
        {"id": "o1", "model": "gpt-5.4-mini-2026-03-17", "timestamp": "2026-11-02T12:00:00Z",
         "usage": CompletionUsage(prompt_tokens=1000, completion_tokens=100, total_tokens=1100,
                                  prompt_tokens_details={"cached_tokens": 200}).model_dump()},
        # GPT-6 Luna responses: (10,000 − 1000 − 1000)×0.1 + 1000×0.01 + 1000×0.125 + 1000×0.5 = 1,435 µ$
        {"id": "o2", "model": "gpt-6-luna", "timestamp": "2026-11-02T12:00:00Z",
         "usage": ResponseUsage(input_tokens=10_000, output_tokens=1000, total_tokens=11_000,
                                input_tokens_details={"cached_tokens": 1000, "cache_write_tokens": 1000},
                                output_tokens_details={"reasoning_tokens": 0}).model_dump()},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/events", {"events": events}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["unpriced"] == 0
    costs = dict(UsageRecord.objects.values_list("external_id", "cost_nano"))
    assert costs == {"a1": 4_200 * MICRO, "o1": 1_065 * MICRO, "o2": 1_435 * MICRO}
    data = api_client.get("/api/v1/prices", {"model": "deepseek-v4-pro", "at": "2026-11-02"}).json()
    assert data["peak"] == {"hours_utc": "01-04,06-10", "multiplier": "2"}


def test_cache_writes_larger_than_the_prompt_name_the_field():
    with pytest.raises(ValueError, match=r"usage\.input_tokens_details\.cache_write_tokens: cached \+ cache-write"):
        normalize_usage({"input_tokens": 100, "output_tokens": 1,
                         "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 50}})
