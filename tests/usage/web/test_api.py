"""The ingest, spend and prices API: auth, validation, idempotency, exact costs."""

import json

import pytest

from costwatch.tenant.keys import create_key, revoke_key
from usage.models import DailyUsage, UsageRecord

pytestmark = pytest.mark.django_db

ANTHROPIC_EVENT = {
    "id": "req-1",
    "model": "claude-sonnet-4-5-20250929",
    "timestamp": "2026-11-02T10:00:00Z",
    "feature": "chat",
    "user": "u-1",
    "api_key": "prod",
    "usage": {"input_tokens": 1000, "cache_read_input_tokens": 10000, "cache_creation_input_tokens": 5000,
              "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 3000},
              "output_tokens": 500},
}
OPENAI_EVENT = {
    "id": "req-2",
    "model": "gpt-4o-2024-08-06",
    "timestamp": "2026-11-02T11:00:00Z",
    "feature": "support",
    "usage": {"prompt_tokens": 2318, "completion_tokens": 96,
              "prompt_tokens_details": {"cached_tokens": 1920}},
}


def post(client, body, **extra):
    return client.post("/api/v1/events", data=json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def ingest(api_client, django_capture_on_commit_callbacks):
    def send(body):
        with django_capture_on_commit_callbacks(execute=True):
            return post(api_client, body)
    return send


def test_single_event_is_priced_and_rolled_up(ingest, project):
    response = ingest(ANTHROPIC_EVENT)
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0, "unpriced": 0, "cost_usd": "0.039000000"}
    daily = DailyUsage.objects.get(project=project)
    assert (daily.model, daily.feature, daily.end_user, daily.cost_nano) == ("claude-sonnet-4-5", "chat", "u-1", 39_000_000)


def test_batch_of_events_and_resent_ids_are_duplicates(ingest, project):
    first = ingest({"events": [ANTHROPIC_EVENT, OPENAI_EVENT]})
    assert first.json() == {"accepted": 2, "duplicates": 0, "unpriced": 0, "cost_usd": "0.043355000"}
    again = ingest({"events": [ANTHROPIC_EVENT, OPENAI_EVENT, {**OPENAI_EVENT, "id": "req-3"}]})
    assert again.json() == {"accepted": 1, "duplicates": 2, "unpriced": 0, "cost_usd": "0.004355000"}
    assert UsageRecord.objects.filter(project=project).count() == 3


def test_same_id_twice_in_one_request_is_stored_once(ingest, project):
    response = ingest({"events": [OPENAI_EVENT, OPENAI_EVENT]})
    assert response.json()["accepted"] == 1 and response.json()["duplicates"] == 1


def test_normalized_token_fields(ingest, project):
    response = ingest({"model": "claude-haiku-4-5", "batch": True, "input_tokens": 1000,
                       "cache_read_tokens": 3072, "output_tokens": 20})
    assert response.json()["cost_usd"] == "0.000703600"


def test_invalid_events_are_reported_by_index_and_field_and_nothing_is_stored(ingest, project):
    response = ingest({"events": [
        OPENAI_EVENT,
        {"model": "gpt-4o", "input_tokens": -5},
        {"usage": {"input_tokens": 1}},
        {"model": "gpt-4o", "usage": {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 20}}},
        {"model": "gpt-4o", "input_tokns": 5, "output_tokens": 1},
        {"model": "gpt-4o"},
        {"model": "gpt-4o", "timestamp": "yesterday", "input_tokens": 1},
    ]})
    assert response.status_code == 400
    errors = response.json()["errors"]
    by_index = {(e["index"], e["field"]) for e in errors}
    assert (1, "input_tokens") in by_index
    assert (2, "model") in by_index
    assert (3, "usage.prompt_tokens_details.cached_tokens") in by_index
    assert (4, "input_tokns") in by_index
    assert any(i == 5 for i, _ in by_index)
    assert (6, "timestamp") in by_index
    assert 0 not in {i for i, _ in by_index}
    assert UsageRecord.objects.count() == 0


def test_not_json_and_too_many_events(api_client, settings):
    response = api_client.post("/api/v1/events", data="{oops", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]
    settings.INGEST_MAX_EVENTS = 3
    response = post(api_client, {"events": [OPENAI_EVENT] * 4})
    assert response.status_code == 400 and "at most 3" in response.json()["detail"]


def test_body_limit_is_raised_for_ingest_only(api_client, settings):
    events = [{**OPENAI_EVENT, "id": f"e{i}", "metadata": {"pad": "x" * 400}} for i in range(8000)]
    body = json.dumps({"events": events})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # larger than Django's global 2.5 MB cap
    response = api_client.post("/api/v1/events", data=body, content_type="application/json")
    assert response.status_code == 200 and response.json()["accepted"] == 8000
    settings.INGEST_MAX_BODY_BYTES = 1000
    response = api_client.post("/api/v1/events", data=body, content_type="application/json")
    assert response.status_code == 413


def test_wrong_or_revoked_key_is_401(client, project):
    key, raw = create_key(project)
    assert post(client, OPENAI_EVENT, HTTP_AUTHORIZATION="Bearer cw_wrong").status_code == 401
    assert post(client, OPENAI_EVENT).status_code == 401
    assert post(client, OPENAI_EVENT, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    revoke_key(key)
    assert post(client, {**OPENAI_EVENT, "id": "x"}, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_keys_are_stored_hashed(project):
    key, raw = create_key(project)
    assert raw not in key.key_hash and key.prefix == raw[:10]
    from costwatch.tenant.models import IngestKey

    assert not IngestKey.objects.filter(key_hash=raw).exists()


def test_spend_groups_filters_and_totals(ingest, api_client):
    ingest({"events": [ANTHROPIC_EVENT, OPENAI_EVENT,
                       {**OPENAI_EVENT, "id": "req-4", "timestamp": "2026-11-03T09:00:00Z", "user": "u-2"}]})
    response = api_client.get("/api/v1/spend", {"start": "2026-11-01", "end": "2026-11-30", "group_by": "day,model"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["ledger"] == "metered"
    rows = {(r["day"], r["model"]): r for r in data["rows"]}
    assert rows[("2026-11-02", "claude-sonnet-4-5")]["cost_usd"] == "0.039000000"
    assert rows[("2026-11-02", "gpt-4o")]["cost_usd"] == "0.004355000"
    assert rows[("2026-11-03", "gpt-4o")]["requests"] == 1
    assert data["total"]["cost_usd"] == "0.047710000"
    assert data["total"]["requests"] == 3
    # cache hit rate = cache_read / (input + cache_read + writes)
    assert rows[("2026-11-02", "gpt-4o")]["cache_hit_rate"] == round(1920 / 2318, 4)
    # end is inclusive; filters use the same names
    one_day = api_client.get("/api/v1/spend", {"start": "2026-11-03", "end": "2026-11-03", "model": "gpt-4o"}).json()
    assert one_day["total"]["cost_usd"] == "0.004355000"
    by_user = api_client.get("/api/v1/spend", {"start": "2026-11-01", "end": "2026-11-30", "group_by": "user",
                                                "feature": "support"}).json()
    assert {r["user"]: r["requests"] for r in by_user["rows"]} == {"": 1, "u-2": 1}


def test_spend_rejects_unknown_group_by(api_client):
    response = api_client.get("/api/v1/spend", {"start": "2026-11-01", "end": "2026-11-02", "group_by": "colour"})
    assert response.status_code == 400 and "colour" in response.json()["detail"]


def test_spend_with_session_is_scoped_to_members(client, project, user, django_user_model):
    client.force_login(user)
    ok = client.get("/api/v1/spend", {"start": "2026-11-01", "end": "2026-11-02", "project": project.slug})
    assert ok.status_code == 200
    stranger = django_user_model.objects.create_user("mallory", password="pw-mallory-123")
    client.force_login(stranger)
    assert client.get("/api/v1/spend", {"start": "2026-11-01", "end": "2026-11-02",
                                        "project": project.slug}).status_code == 404


def test_prices_endpoint(api_client):
    data = api_client.get("/api/v1/prices", {"model": "Claude Sonnet 4.5", "at": "2026-01-01"}).json()
    assert data["model"] == "claude-sonnet-4-5"
    assert data["rates"] == {"input": "3", "output": "15", "cache_read": "0.3", "cache_write_5m": "3.75", "cache_write_1h": "6"}
    assert data["long_context"]["threshold_tokens"] == 200000
    assert data["source_url"].startswith("https://")
    old = api_client.get("/api/v1/prices", {"model": "o3-2025-04-16", "at": "2025-05-01"}).json()
    assert old["rates"]["input"] == "10"
    assert api_client.get("/api/v1/prices", {"model": "no-such-model"}).status_code == 404


def test_openapi_schema_and_docs_need_login(client, user):
    assert client.get("/api/v1/docs").status_code == 302
    client.force_login(user)
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/events" in schema["paths"] and "/api/v1/spend" in schema["paths"]
    assert client.get("/api/v1/docs").status_code == 200
