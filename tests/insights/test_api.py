"""The insights API: contract fields, decimal strings, errors naming the parameter."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from usage.ingest import record_usage
from usage.records import Record


def rec(i, day, model, feature, **tokens):
    return Record(external_id=f"a{i}", timestamp=datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC),
                  model=model, feature=feature, **tokens)


@pytest.fixture
def months(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            # February: haiku 1M in = $1.00
            rec(1, "2026-02-10", "claude-haiku-4-5", "chat", input_tokens=1_000_000),
            # March: haiku 2M in = $2.00 (volume), plus sonnet 0.1M in = $0.30 (new: mix)
            rec(2, "2026-03-10", "claude-haiku-4-5", "chat", input_tokens=2_000_000),
            rec(3, "2026-03-11", "claude-sonnet-4-5", "search", input_tokens=100_000),
        ])
    return project


def test_explain_months(api_client, months):
    r = api_client.get("/api/v1/explain?period=2026-03&compare=2026-02")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["previous_usd"], body["current_usd"], body["change_usd"]) == (
        "1.000000000", "2.300000000", "1.300000000")
    effects = body["effects"]
    assert set(effects) == {"volume_usd", "mix_usd", "price_usd", "caching_usd"}
    assert sum(Decimal(v) for v in effects.values()) == Decimal("1.3")
    assert effects["price_usd"] == effects["caching_usd"] == "0.000000000"
    # Shapley by hand: T 1M -> 2.1M; mix: haiku 1 -> 2/2.1, sonnet 0 -> 0.1/2.1.
    # f(v, m): (0,0)=1, (1,0)=2.1, (0,1)=1×(2/2.1×1 + 0.1/2.1×3)=2.3/2.1, (1,1)=2.3
    # volume = ½[(2.1−1) + (2.3−2.3/2.1)] = ½[1.1 + 2.53/2.1], mix = 1.3 − volume
    volume = (Decimal("1.1") + Decimal("2.53") / Decimal("2.1")) / 2
    assert abs(Decimal(effects["volume_usd"]) - volume) < Decimal("0.000000001")
    assert [m["model"] for m in body["by_model"]] == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    search = body["by_feature"][1]
    assert (search["feature"], search["previous_usd"], search["current_usd"]) == ("search", "0.000000000", "0.300000000")
    assert search["price_usd"] == search["caching_usd"] == "0.000000000"
    for row in body["by_model"] + body["by_feature"]:
        assert sum(Decimal(row[f"{e}_usd"]) for e in ("volume", "mix", "price", "caching")) == Decimal(row["change_usd"])
    assert body["summary"].startswith("Up $1.30 vs Feb 1–Feb 28")


def test_explain_week_ranges_and_errors(api_client, months):
    r = api_client.get("/api/v1/explain?start=2026-03-09&end=2026-03-15&compare_start=2026-02-09&compare_end=2026-02-15")
    assert r.status_code == 200
    assert r.json()["change_usd"] == "1.300000000"
    assert api_client.get("/api/v1/explain?period=2026-13").json()["detail"].startswith("period: expected YYYY-MM")
    assert api_client.get("/api/v1/explain?start=2026-03-09").json()["detail"].startswith("start and end")
    r = api_client.get("/api/v1/explain?start=2026-03-09&end=2026-03-15&compare_start=2026-02-01")
    assert r.status_code == 400 and "compare_end" in r.json()["detail"]


def test_whatif_contract(api_client, months):
    r = api_client.get("/api/v1/whatif?start=2026-03-01&end=2026-03-31&model=claude-haiku-4-5")
    assert r.status_code == 200, r.content
    body = r.json()
    # sonnet's 0.1M at haiku's $1 = $0.10 instead of $0.30
    assert (body["actual_usd"], body["whatif_usd"], body["saving_usd"], body["saving_pct"]) == (
        "2.300000000", "2.100000000", "0.200000000", "8.7")
    assert body["unpriced_records"] == 0
    assert {"feature": "search", "model": "claude-sonnet-4-5", "whatif_model": "claude-haiku-4-5",
            "actual_usd": "0.300000000", "whatif_usd": "0.100000000"} in body["rows"]
    bad = api_client.get("/api/v1/whatif?start=2026-03-01&end=2026-03-31&model=gpt-99")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("model: no price for 'gpt-99'")


def test_insights_endpoints_are_in_the_openapi_schema(logged_in):
    paths = logged_in.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/explain", "/api/v1/whatif"):
        assert path in paths
    schemas = logged_in.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert {"volume_usd", "mix_usd", "price_usd", "caching_usd"} <= set(schemas["Effects"]["properties"])
    assert {"actual_usd", "whatif_usd", "saving_usd", "saving_pct", "unpriced_records", "rows"} <= set(
        schemas["WhatIfOut"]["properties"])
