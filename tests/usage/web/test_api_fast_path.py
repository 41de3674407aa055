"""The ingest API's fast path (one msgspec pass over `{"events": [...]}`) builds exactly the
records the EventIn path builds, and whatever it refuses is decided by EventIn."""

import json
from datetime import UTC, datetime

import orjson
import pytest

from usage.models import UsageRecord
from usage.web import api

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

EVENTS = [
    {"id": "a", "model": "claude-sonnet-4-5-20250929", "timestamp": "2026-11-02T10:00:00Z", "feature": "chat",
     "user": "u-1", "api_key": "prod", "usage": {
         "input_tokens": 1000, "cache_read_input_tokens": 10000, "cache_creation_input_tokens": 5000,
         "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 3000},
         "output_tokens": 500, "server_tool_use": {"web_search_requests": 2}, "inference_geo": "us"}},
    {"id": "b", "model": "gpt-4o-2024-08-06", "timestamp": "2026-11-02T11:00:00.25+02:00",
     "usage": {"prompt_tokens": 2318, "completion_tokens": 96, "prompt_tokens_details": {"cached_tokens": 1920},
               "service_tier": "priority"}},
    {"id": "c", "model": "gpt-5", "timestamp": "2026-11-02T12:00:00", "input_tokens": 5, "output_tokens": 7,
     "reasoning_tokens": 3, "batch": True, "metadata": {"trace": ["x", 1, None]}, "user": "é", "region": "eu"},
    {"id": "d", "model": "gemini-2.5-pro", "provider": "google", "speed": "fast",
     "usage": {"promptTokenCount": 10, "candidatesTokenCount": 3, "thoughtsTokenCount": 1},
     "output": [{"type": "web_search_call"}, {"type": "message"}], "grounding_requests": 2},
    {"id": "e", "model": "deepseek-chat", "service_tier": "flex",
     "usage": {"prompt_tokens": 100, "prompt_cache_hit_tokens": 40, "completion_tokens": 9}},
]


def test_the_fast_path_builds_the_records_of_the_eventin_path():
    body = json.dumps({"events": EVENTS}).encode()
    fast = api._fast_records(body, NOW)
    slow = [api._event_to_record(e, NOW) for e in api._EVENTS.validate_python(orjson.loads(body)["events"])]
    assert fast is not None and len(fast) == len(EVENTS)
    assert fast == slow
    assert [r.origin for r in fast] == list(range(len(EVENTS)))
    assert fast[1].timestamp == datetime(2026, 11, 2, 9, 0, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(("event", "field"), [
    ({"model": "gpt-4o", "input_tokens": 1, "timestamp": 1764000000}, None),  # epoch seconds: EventIn's
    ({"model": "gpt-4o", "input_tokens": 1, "timestamp": "2026-11-02 10:00:00Z"}, None),
    ({"model": "gpt-4o", "input_tokens": 1, "usage": {"prompt_tokens": 1}}, "event"),  # both
    ({"model": "gpt-4o"}, "event"),  # neither
    ({"model": "gpt-4o", "input_tokens": 1.0}, "input_tokens"),
    ({"model": "gpt-4o", "input_tokens": 1, "unknown": 1}, "unknown"),
    ({"model": "gpt-4o", "input_tokens": 1, "feature": "x" * 201}, "feature"),
    ({"model": "gpt-4o", "usage": {"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 6}}},
     "usage.prompt_tokens_details.cached_tokens"),
    ({"model": "gpt-4o", "input_tokens": 1, "feature": "a\x00b"}, "feature"),  # bounds
])
def test_what_the_fast_path_refuses_eventin_decides(event, field):
    body = json.dumps({"events": [event]}).encode()
    assert api._fast_records(body, NOW) is None
    if field is None:
        assert len(api.parse_events(body)) == 1
    else:
        with pytest.raises(api.IngestRejected) as refused:
            api.parse_events(body)
        assert [(e["index"], e["field"]) for e in refused.value.errors] == [(0, field)]


@pytest.mark.django_db
def test_a_batch_the_fast_path_refuses_is_still_stored_by_eventin(api_client, project):
    body = {"events": [{"id": "epoch", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                        "timestamp": 1764000000}]}
    response = api_client.post("/api/v1/events", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert UsageRecord.objects.get(external_id="epoch").timestamp == datetime.fromtimestamp(1764000000, UTC)
