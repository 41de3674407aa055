"""Regional multipliers, audio input and OpenAI's 30-minute / 12-hour cache writes, each with
a hand-computed expectation from the providers' pages and the shipped catalog, posted as the
real SDK objects through the ingest API. 1 token at $1/M = 1,000 nano = 1 µ$ per 1,000 tokens."""

import csv
import io
from datetime import date

import pytest
from anthropic.types import ServerToolUsage
from anthropic.types import Usage as AnthropicUsage
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from billing.pricing.rates import is_regional
from tests.pricing.ingest import MICRO, TS, post
from usage.models import DailyModelUsage, UsageRecord
from usage.records import UsageFormatError, normalize_usage
from usage.reports.queries import SpendQuery, class_costs, grouped

pytestmark = pytest.mark.django_db


def costs():
    return dict(UsageRecord.objects.values_list("external_id", "cost_nano"))


# --- multipliers ----------------------------------------------------------------------------


def test_anthropic_inference_geo_us_is_1_1x_every_class_on_opus_4_6(api_client, django_capture_on_commit_callbacks):
    def usage(geo, searches=0):
        return AnthropicUsage(input_tokens=1000, output_tokens=100, cache_read_input_tokens=1000,
                              cache_creation_input_tokens=1000, inference_geo=geo,
                              server_tool_use=ServerToolUsage(web_search_requests=searches,
                                                              web_fetch_requests=0)).model_dump()
    post(api_client, [
        {"id": "us", "model": "claude-opus-4-6", "timestamp": TS, "usage": usage("us")},
        {"id": "global", "model": "claude-opus-4-6", "timestamp": TS, "usage": usage("global")},
        {"id": "us+search", "model": "claude-opus-4-6", "timestamp": TS, "usage": usage("us", 1)},
        {"id": "old", "model": "claude-opus-4-1", "timestamp": TS, "usage": usage("us")},
    ], django_capture_on_commit_callbacks)
    # Opus 4.6: 1000×5 + 1000×0.5 (read) + 1000×6.25 (5m write) + 100×25 = 14,250 µ$; US-only × 1.1
    # (the search fee is not multiplied); Opus 4.1 has no data-residency uplift:
    # 1000×15 + 1000×1.5 + 1000×18.75 + 100×75 = 42,750 µ$
    assert costs() == {"us": 15_675 * MICRO, "global": 14_250 * MICRO, "us+search": 25_675 * MICRO,
                       "old": 42_750 * MICRO}
    assert UsageRecord.objects.get(external_id="us").region == "us"


@pytest.mark.parametrize("model, expected_micro", [
    # Sonnet 4.5 3 / 15: 1000×3 + 100×15 = 4,500 µ$; regional endpoints +10 % from Sonnet 4.5 on
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 4_950),
    ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", 4_950),
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", 4_950),  # in-region: regional too
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", 4_500),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", 4_500),  # Sonnet 4: one price everywhere
])
def test_bedrock_regional_ids(api_client, django_capture_on_commit_callbacks, model, expected_micro):
    post(api_client, [{"id": "b", "model": model, "provider": "anthropic", "timestamp": TS,
                       "input_tokens": 1000, "output_tokens": 100}], django_capture_on_commit_callbacks)
    assert costs() == {"b": expected_micro * MICRO}


def test_openai_regional_processing_10_percent_where_it_applies(api_client, django_capture_on_commit_callbacks):
    usage = CompletionUsage(prompt_tokens=1000, completion_tokens=100, total_tokens=1100).model_dump()
    post(api_client, [
        {"id": "eu", "model": "gpt-5.4-mini", "timestamp": TS, "usage": usage, "region": "eu"},
        {"id": "plain", "model": "gpt-5.4-mini", "timestamp": TS, "usage": usage},
        {"id": "old", "model": "gpt-4.1", "timestamp": TS, "usage": usage, "region": "eu"},
    ], django_capture_on_commit_callbacks)
    # gpt-5.4-mini 1000×0.75 + 100×4.5 = 1,200 µ$ (× 1.1 regional); gpt-4.1 1000×2 + 100×8 = 2,800 µ$
    assert costs() == {"eu": 1_320 * MICRO, "plain": 1_200 * MICRO, "old": 2_800 * MICRO}


def test_what_is_regional():
    assert is_regional("claude-opus-4-6", "us") and is_regional("gpt-5.5", "eu")
    assert not is_regional("claude-opus-4-6", "global") and not is_regional("claude-opus-4-6", "not_available")
    assert is_regional("jp.anthropic.claude-haiku-4-5-20251001-v1:0")
    assert not is_regional("global.anthropic.claude-haiku-4-5-20251001-v1:0")


# --- audio input ----------------------------------------------------------------------------


def test_openai_chat_and_responses_audio_tokens_at_the_audio_rate(api_client, django_capture_on_commit_callbacks):
    chat = CompletionUsage(prompt_tokens=1000, completion_tokens=100, total_tokens=1100,
                           prompt_tokens_details={"audio_tokens": 600, "cached_tokens": 0}).model_dump()
    responses = ResponseUsage(input_tokens=1000, output_tokens=100, total_tokens=1100,
                              input_tokens_details={"cached_tokens": 0, "cache_write_tokens": 0, "audio_tokens": 600},
                              output_tokens_details={"reasoning_tokens": 0}).model_dump()
    post(api_client, [
        {"id": "chat", "model": "gpt-4o-mini-audio-preview", "timestamp": TS, "usage": chat},
        {"id": "resp", "model": "gpt-4o-mini-audio-preview", "timestamp": TS, "usage": responses},
    ], django_capture_on_commit_callbacks)
    # text 400×0.15 = 60, audio 600×10 = 6,000, output 100×0.6 = 60: 6,120 µ$
    assert costs() == {"chat": 6_120 * MICRO, "resp": 6_120 * MICRO}
    row = UsageRecord.objects.get(external_id="chat")
    assert (row.input_tokens, row.audio_input_tokens) == (400, 600)
    assert DailyModelUsage.objects.get(model="gpt-4o-mini-audio-preview").audio_input_tokens == 1200


def test_gemini_audio_prompt_tokens(api_client, django_capture_on_commit_callbacks):
    usage = {"promptTokenCount": 1000, "candidatesTokenCount": 100, "totalTokenCount": 1100,
             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 400}, {"modality": "AUDIO", "tokenCount": 600}]}
    post(api_client, [{"id": "g", "model": "gemini-2.5-flash", "timestamp": TS, "usage": usage}],
         django_capture_on_commit_callbacks)
    # 2.5 Flash: text 400×0.3 = 120, audio 600×1.00 = 600, output 100×2.5 = 250: 970 µ$
    assert costs() == {"g": 970 * MICRO}


def test_audio_larger_than_the_prompt_names_the_field():
    with pytest.raises(UsageFormatError, match=r"usage\.prompt_tokens_details\.audio_tokens"):
        normalize_usage({"prompt_tokens": 100, "completion_tokens": 1,
                         "prompt_tokens_details": {"cached_tokens": 50, "audio_tokens": 60}})
    with pytest.raises(UsageFormatError, match=r"usage\.promptTokensDetails"):
        normalize_usage({"promptTokenCount": 10, "candidatesTokenCount": 1,
                         "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 11}]})


# --- OpenAI 30m / 12h cache writes ----------------------------------------------------------


def test_openai_cache_writes_are_their_own_classes_end_to_end(api_client, client, user, project,
                                                             django_capture_on_commit_callbacks):
    usage = ResponseUsage(
        input_tokens=10_000, output_tokens=500, total_tokens=10_500,
        input_tokens_details={"cached_tokens": 2000, "cache_write_tokens": 3000,
                              "cache_write_tokens_details": {"ttl_30m_tokens": 1000, "ttl_12h_tokens": 2000}},
        output_tokens_details={"reasoning_tokens": 100},
    ).model_dump()
    post(api_client, [{"id": "w", "model": "gpt-5.6-sol", "timestamp": TS, "usage": usage, "feature": "chat"}],
         django_capture_on_commit_callbacks)
    row = UsageRecord.objects.get(external_id="w")
    assert (row.cache_write_30m_tokens, row.cache_write_12h_tokens) == (1000, 2000)
    assert (row.cache_write_5m_tokens, row.cache_write_1h_tokens) == (0, 0)
    # gpt-5.6-sol since 2026-08-21: 5000×4 + 2000×0.4 + 1000×5 (30m) + 2000×10 (12h) + 500×20 = 55,800 µ$
    assert row.cost_nano == 55_800 * MICRO
    # without caching: all 10,000 prompt tokens at 4 + 500×20 = 50,000 µ$
    assert row.cost_no_cache_nano == 50_000 * MICRO

    rolled = DailyModelUsage.objects.get(project=project, model="gpt-5.6-sol")
    assert (rolled.cache_write_30m_tokens, rolled.cache_write_12h_tokens, rolled.cache_write_5m_tokens) == (1000, 2000, 0)
    spend = api_client.get("/api/v1/spend", {"start": "2026-11-02", "end": "2026-11-02"}).json()["total"]
    assert (spend["cache_write_30m_tokens"], spend["cache_write_12h_tokens"], spend["cache_write_1h_tokens"]) == (
        1000, 2000, 0)
    split = class_costs(grouped(SpendQuery(project=project, start=date(2026, 11, 2), end=date(2026, 11, 2),
                                           ledger="metered", group_by=["day", "model"])))
    assert (split["cache_write_30m_tokens"], split["cache_write_12h_tokens"]) == (5_000 * MICRO, 20_000 * MICRO)
    # premium over uncached input: 1000×(5−4) + 2000×(10−4) = 13,000 µ$
    assert split["write_premium"] == 13_000 * MICRO

    client.force_login(user)
    html = client.get("/p/acme/tokens/", {"range": "custom", "start": "2026-11-02", "end": "2026-11-02"}).content.decode()
    assert "<td>Cache write 30m</td>" in html and "<td>Cache write 12h</td>" in html
    page = client.get("/p/acme/records/", {"range": "custom", "start": "2026-11-02", "end": "2026-11-02"})
    assert '<td class="num">3,000</td>' in page.content.decode()  # the record's cache writes
    export = client.get("/p/acme/export/records.csv", {"range": "custom", "start": "2026-11-02", "end": "2026-11-02"})
    table = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert (table[0]["cache_write_30m_tokens"], table[0]["cache_write_12h_tokens"]) == ("1000", "2000")
    reconcile = api_client.get("/api/v1/reconcile", {"start": "2026-11-02", "end": "2026-11-02"}).json()
    assert reconcile["cells"][0]["metered"]["tokens"] == 10_500  # every class once
