"""Per-request tool fees (the "Tools" class), each with a hand-computed expectation from the
providers' pages and the shipped catalog: Anthropic web search $10 / 1,000 (web fetch: no
fee beyond its tokens), OpenAI web search $10 / 1,000 calls and file search $2.50 / 1,000,
Gemini grounding with Google Search $35 / 1,000 grounded prompts (2.x) and $14 / 1,000
search queries (3.x). 1 token at $1/M = 1,000 nano; $10 / 1,000 requests = 10,000,000 nano."""

import csv
import io
from datetime import date

import pytest
from anthropic.types import ServerToolUsage
from anthropic.types import Usage as AnthropicUsage
from openai.types.responses import ResponseUsage

from tests.pricing.ingest import MICRO, TS, post
from usage.models import DailyModelUsage, UsageRecord
from usage.reports.queries import SpendQuery, class_costs, grouped

pytestmark = pytest.mark.django_db


def test_anthropic_web_search_and_fetch_from_the_sdk_usage(api_client, django_capture_on_commit_callbacks):
    usage = AnthropicUsage(input_tokens=1000, output_tokens=100,
                           server_tool_use=ServerToolUsage(web_search_requests=3, web_fetch_requests=2)).model_dump()
    out = post(api_client, [{"id": "a", "model": "claude-sonnet-5-5", "timestamp": TS, "usage": usage}],
               django_capture_on_commit_callbacks)
    row = UsageRecord.objects.get(external_id="a")
    # Sonnet 5.5 tokens 1000×2 + 100×10 = 3,000 µ$; 3 searches × 10,000 µ$; fetches free
    assert (row.web_search_requests, row.web_fetch_requests) == (3, 2)
    assert (row.fees_nano, row.cost_nano) == (30_000 * MICRO, 33_000 * MICRO)
    assert out["cost_usd"] == "0.033000000"
    # fees are never discounted: the no-cache / no-batch what-ifs carry them as they are
    assert row.cost_no_cache_nano == row.cost_no_batch_nano == 33_000 * MICRO


def test_anthropic_batch_discounts_tokens_not_the_search_fee(api_client, django_capture_on_commit_callbacks):
    usage = AnthropicUsage(input_tokens=1000, output_tokens=100,
                           server_tool_use=ServerToolUsage(web_search_requests=1, web_fetch_requests=0)).model_dump()
    post(api_client, [{"id": "b", "model": "claude-sonnet-5-5", "timestamp": TS, "batch": True, "usage": usage}],
         django_capture_on_commit_callbacks)
    row = UsageRecord.objects.get(external_id="b")
    # 3,000 µ$ × 0.5 + 10,000 µ$
    assert row.cost_nano == 11_500 * MICRO and row.cost_no_batch_nano == 13_000 * MICRO


def test_openai_responses_output_items_count_web_and_file_search_calls(api_client,
                                                                       django_capture_on_commit_callbacks):
    usage = ResponseUsage(input_tokens=1000, output_tokens=100, total_tokens=1100,
                          input_tokens_details={"cached_tokens": 0, "cache_write_tokens": 0},
                          output_tokens_details={"reasoning_tokens": 0}).model_dump()
    output = [{"type": "web_search_call", "id": "ws_1", "status": "completed"},
              {"type": "web_search_call", "id": "ws_2", "status": "completed"},
              {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["q"]},
              {"type": "message", "id": "msg_1", "role": "assistant", "content": []}]
    post(api_client, [{"id": "o", "model": "gpt-5.4-mini", "timestamp": TS, "usage": usage, "output": output}],
         django_capture_on_commit_callbacks)
    row = UsageRecord.objects.get(external_id="o")
    # gpt-5.4-mini 1000×0.75 + 100×4.5 = 1,200 µ$; 2 × 10,000 + 1 × 2,500 µ$
    assert (row.web_search_requests, row.file_search_requests) == (2, 1)
    assert (row.fees_nano, row.cost_nano) == (22_500 * MICRO, 23_700 * MICRO)


def test_gemini_grounding_per_model_generation(api_client, django_capture_on_commit_callbacks):
    usage = {"promptTokenCount": 1000, "candidatesTokenCount": 100, "totalTokenCount": 1100}
    post(api_client, [
        {"id": "g3", "model": "gemini-3-flash-preview", "timestamp": TS, "usage": usage, "grounding_requests": 2},
        {"id": "g2", "model": "gemini-2.5-flash", "timestamp": TS, "usage": usage, "grounding_requests": 1},
    ], django_capture_on_commit_callbacks)
    costs = dict(UsageRecord.objects.values_list("external_id", "cost_nano"))
    # 3 Flash: 1000×0.5 + 100×3 = 800 µ$ + 2 × 14,000; 2.5 Flash: 300 + 250 = 550 µ$ + 35,000
    assert costs == {"g3": 28_800 * MICRO, "g2": 35_550 * MICRO}


def test_a_tool_the_model_has_no_fee_for_is_unpriced(api_client, django_capture_on_commit_callbacks):
    out = post(api_client, [{"id": "d", "model": "deepseek-v4-pro", "timestamp": TS, "input_tokens": 10,
                             "output_tokens": 1, "web_search_requests": 1}], django_capture_on_commit_callbacks)
    assert out["unpriced"] == 1
    row = UsageRecord.objects.get(external_id="d")
    assert (row.cost_nano, row.fees_nano, row.web_search_requests) == (None, 0, 1)


def test_bad_tool_counts_and_output_items_name_the_field(api_client):
    bad = api_client.post("/api/v1/events", {"model": "gpt-5.4-mini", "input_tokens": 1, "web_search_requests": -1},
                          content_type="application/json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "web_search_requests"
    bad = api_client.post("/api/v1/events", {"model": "gpt-5.4-mini", "input_tokens": 1, "output": ["x"]},
                          content_type="application/json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "output.0"


def _web_search_day(api_client, capture):
    usage = AnthropicUsage(input_tokens=1000, output_tokens=100,
                           server_tool_use=ServerToolUsage(web_search_requests=3, web_fetch_requests=0)).model_dump()
    post(api_client, [{"id": "t", "model": "claude-sonnet-5-5", "timestamp": TS, "usage": usage,
                       "feature": "research"}], capture)


def test_tools_is_its_own_class_in_rollups_spend_api_split_and_exports(api_client, client, user, project,
                                                                       django_capture_on_commit_callbacks):
    _web_search_day(api_client, django_capture_on_commit_callbacks)
    rolled = DailyModelUsage.objects.get(project=project, day=date(2026, 11, 2))
    assert (rolled.web_search_requests, rolled.fees_nano, rolled.cost_nano) == (3, 30_000 * MICRO, 33_000 * MICRO)

    spend = api_client.get("/api/v1/spend", {"start": "2026-11-02", "end": "2026-11-02", "group_by": "model"}).json()
    assert spend["total"]["fees_usd"] == "0.030000000" and spend["total"]["cost_usd"] == "0.033000000"
    assert spend["rows"][0]["web_search_requests"] == 3

    rows = grouped(SpendQuery(project=project, start=date(2026, 11, 2), end=date(2026, 11, 2), ledger="metered",
                              group_by=["day", "model"]))
    split = class_costs(rows)
    # Tools = the fee as charged; the token classes share the 3,000 µ$ of tokens
    assert split["fees_nano"] == 30_000 * MICRO
    assert (split["input_tokens"], split["output_tokens"]) == (2_000 * MICRO, 1_000 * MICRO)

    client.force_login(user)
    html = client.get("/p/acme/tokens/", {"range": "custom", "start": "2026-11-02", "end": "2026-11-02"}).content.decode()
    assert "<td>Tools</td><td class=\"num\">3 calls</td><td class=\"num\">$0.03</td>" in html
    export = client.get("/p/acme/export/features.csv", {"range": "custom", "start": "2026-11-02", "end": "2026-11-02"})
    table = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert (table[0]["fees_usd"], table[0]["web_search_requests"]) == ("0.030000000", "3")
    records = client.get("/p/acme/export/records.csv", {"range": "custom", "start": "2026-11-02", "end": "2026-11-02"})
    table = list(csv.DictReader(io.StringIO(b"".join(records.streaming_content).decode())))
    assert (table[0]["fees_usd"], table[0]["cost_usd"]) == ("0.030000000", "0.033000000")
    page = client.get("/p/acme/records/", {"range": "custom", "start": "2026-11-02", "end": "2026-11-02"})
    assert "incl. $0.03 tools (3 calls)" in page.content.decode()
