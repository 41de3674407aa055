"""Reconciliation: metered vs billed per day × model, with hand-computed figures.

Prices (billing/pricing/data/prices.csv): claude-sonnet-4-5 $3 / M input tokens, claude-haiku-4-5
$1 / M, gpt-4o-mini $0.15 / M. Every record below has input tokens only, at standard rates
(long_context=False, as a console row states it; one metered request of 1M tokens would
otherwise be priced at Sonnet's long-context rate).

    day   model       metered          billed             status
    11-01 sonnet      1M   $3.00       1M    $3.00        match
    11-01 haiku       100K $0.10       105K  $0.105       match (gap $0.005 < a cent)
    11-02 sonnet      1M   $3.00       1.02M $3.06        differs (−1.96 %: flagged at 1 %, not at 2 %)
    11-02 haiku       1M   $1.00       —                  missing from billed
    11-03 sonnet      —                500K  $1.50        not metered
    11-04 sonnet      1M   $3.00       —                  not billed yet (anthropic billed through 11-03)
    11-01 gpt-4o-mini 1M   $0.15       —                  no billed data (nothing imported for openai)

Compared cells: metered $7.10, billed $7.665, difference −$0.565.
"""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from costwatch.tenant.models import Project
from usage.ingest import record_usage
from usage.models import LEDGER_BILLED, LEDGER_METERED
from usage.records import Record
from usage.reports.reconcile import (
    DIFFERS,
    MATCH,
    MISSING_BILLED,
    NO_BILLED_DATA,
    NOT_BILLED_YET,
    NOT_METERED,
    TOLERANCES,
    reconcile,
)
from usage.rollups import rollup_day

pytestmark = pytest.mark.django_db
D1, D2, D3, D4 = (date(2026, 11, d) for d in (1, 2, 3, 4))
SONNET, HAIKU, MINI = "claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o-mini"
ROWS = [  # day, model, provider, ledger, input tokens
    (D1, SONNET, "anthropic", LEDGER_METERED, 1_000_000),
    (D1, SONNET, "anthropic", LEDGER_BILLED, 1_000_000),
    (D1, HAIKU, "anthropic", LEDGER_METERED, 100_000),
    (D1, HAIKU, "anthropic", LEDGER_BILLED, 105_000),
    (D2, SONNET, "anthropic", LEDGER_METERED, 1_000_000),
    (D2, SONNET, "anthropic", LEDGER_BILLED, 1_020_000),
    (D2, HAIKU, "anthropic", LEDGER_METERED, 1_000_000),
    (D3, SONNET, "anthropic", LEDGER_BILLED, 500_000),
    (D4, SONNET, "anthropic", LEDGER_METERED, 1_000_000),
    (D1, MINI, "openai", LEDGER_METERED, 1_000_000),
]
USD = 1_000_000_000


def seed(project: Project) -> None:
    for i, (day, model, provider, ledger, tokens) in enumerate(ROWS):
        record_usage(project=project, source="test-" + ledger, records=[Record(
            external_id=f"r{i}", timestamp=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
            model=model, provider=provider, ledger=ledger, input_tokens=tokens, long_context=False)])
    for day, ledger in {(r[0], r[3]) for r in ROWS}:
        rollup_day(project_id=project.pk, day=day, ledger=ledger)


@pytest.fixture
def rec_project(project):
    seed(project)
    return project


def test_cells_are_classified_and_totals_compare_like_with_like(rec_project):
    result = reconcile(rec_project, start=D1, end=D4)
    status = {(c.day, c.model): c.status for c in result.cells}
    assert status == {
        (D1, SONNET): MATCH, (D1, HAIKU): MATCH, (D2, SONNET): DIFFERS, (D2, HAIKU): MISSING_BILLED,
        (D3, SONNET): NOT_METERED, (D4, SONNET): NOT_BILLED_YET, (D1, MINI): NO_BILLED_DATA,
    }
    assert result.total.metered.cost_nano == 7_100_000_000
    assert result.total.billed.cost_nano == 7_665_000_000
    assert result.total.diff_nano == -565_000_000
    assert result.total.cells == 5 and result.total.flagged == 3
    assert [(c.day, c.model, c.diff_nano) for c in result.flagged] == [
        (D2, HAIKU, 1 * USD), (D2, SONNET, -60_000_000), (D3, SONNET, -1_500_000_000)]
    by_model = {g.model: (g.metered.cost_nano, g.billed.cost_nano, g.flagged, g.cells) for g in result.models}
    assert by_model == {SONNET: (6 * USD, 7_560_000_000, 2, 3), HAIKU: (1_100_000_000, 105_000_000, 1, 2)}
    coverage = {p.provider: (p.metered_days, p.billed_days, p.last_billed) for p in result.providers}
    assert coverage == {"anthropic": (3, 3, D3), "openai": (1, 0, None)}
    # The coverage table's money covers the compared cells only, like the headline: D4's
    # not-billed-yet $3 and openai's never-billed $0.15 are in neither.
    money = {p.provider: (p.metered_nano, p.billed_nano) for p in result.providers}
    assert money == {"anthropic": (7_100_000_000, 7_665_000_000), "openai": (0, 0)}
    assert sum(m for m, _ in money.values()) == result.total.metered.cost_nano
    assert sum(b for _, b in money.values()) == result.total.billed.cost_nano
    assert [(d["day"], d["metered_nano"], d["billed_nano"]) for d in result.days] == [
        (D1, 3_100_000_000, 3_105_000_000), (D2, 4 * USD, 3_060_000_000), (D3, 0, 1_500_000_000)]


def test_tolerance_and_filters(rec_project):
    loose = reconcile(rec_project, start=D1, end=D4, tolerance_bp=TOLERANCES["2"])
    assert {(c.day, c.model) for c in loose.flagged} == {(D2, HAIKU), (D3, SONNET)}
    haiku = reconcile(rec_project, start=D1, end=D4, model=HAIKU)
    # anthropic's last billed day is 11-01 when only haiku is looked at: 11-02 is "not billed yet"
    assert {c.day: c.status for c in haiku.cells} == {D1: MATCH, D2: NOT_BILLED_YET}
    one_day = reconcile(rec_project, start=D2, end=D2, provider="anthropic")
    assert {c.model: c.status for c in one_day.cells} == {SONNET: DIFFERS, HAIKU: MISSING_BILLED}


def test_page_shows_the_figures_and_the_flagged_days(logged_in, rec_project):
    r = logged_in.get("/p/acme/reconcile/?range=custom&start=2026-11-01&end=2026-11-04")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="rec-metered">$7.10<' in html
    # $7.665 and −$0.565 to the cent (the dashboard's Decimal formatting rounds half to even)
    assert 'data-testid="rec-billed">$7.66<' in html
    assert 'data-testid="rec-diff">-$0.56<' in html
    assert 'data-testid="rec-flagged">3<' in html
    assert "missing from billed" in html and "not metered" in html
    assert "nothing imported — not compared" in html  # openai
    # drill-down links to the records behind a flagged cell, on each ledger
    assert "ledger=billed" in html and "day=2026-11-03" in html
    loose = logged_in.get("/p/acme/reconcile/?range=custom&start=2026-11-01&end=2026-11-04&tol=2",
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="page")
    body = loose.content.decode()
    assert body.lstrip().startswith('<div id="page">') and "<html" not in body
    assert 'data-testid="rec-flagged">2<' in body


def test_csv_export_has_every_cell(logged_in, rec_project):
    r = logged_in.get("/p/acme/export/reconcile.csv?range=custom&start=2026-11-01&end=2026-11-04")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert len(rows) == 7
    row = next(x for x in rows if x["day_utc"] == "2026-11-02" and x["model"] == SONNET)
    money = [Decimal(row[k]) for k in ("metered_cost_usd", "billed_cost_usd", "difference_usd")]
    assert money == [Decimal("3"), Decimal("3.06"), Decimal("-0.06")] and row["status"] == DIFFERS
    assert row["difference_share"] == "-0.0196"


def test_empty_states_say_what_to_import(logged_in, project):
    record_usage(project=project, source="api", records=[Record(
        external_id="m", timestamp=datetime(2026, 11, 1, 12, tzinfo=UTC), model=SONNET,
        provider="anthropic", input_tokens=10)])
    rollup_day(project_id=project.pk, day=D1, ledger=LEDGER_METERED)
    html = logged_in.get("/p/acme/reconcile/?range=custom&start=2026-11-01&end=2026-11-04").content.decode()
    assert 'data-testid="no-billed"' in html and "/p/acme/imports/" in html


def test_reconcile_is_project_scoped_and_needs_login(client, rec_project, django_user_model):
    assert client.get("/p/acme/reconcile/").status_code == 302
    other = django_user_model.objects.create_user("mallory", password="pw-mallory-123")
    client.force_login(other)
    assert client.get("/p/acme/reconcile/").status_code == 404
    assert client.get("/p/acme/export/reconcile.csv").status_code == 404


def test_api_returns_the_same_cells(api_client, rec_project):
    r = api_client.get("/api/v1/reconcile", {"start": "2026-11-01", "end": "2026-11-04"})
    assert r.status_code == 200
    body = r.json()
    # decimal strings to the nano-dollar, as in /api/v1/spend
    assert body["total"] == {"metered_cost_usd": "7.100000000", "billed_cost_usd": "7.665000000",
                             "difference_usd": "-0.565000000", "cells": 5, "flagged": 3}
    cell = next(c for c in body["cells"] if c["day"] == "2026-11-02" and c["model"] == SONNET)
    assert cell["status"] == DIFFERS and cell["flagged"] is True
    assert cell["metered"]["cost_usd"] == "3.000000000" and cell["billed"]["cost_usd"] == "3.060000000"
    assert cell["difference_usd"] == "-0.060000000"
    assert {p["provider"]: p["billed_through"] for p in body["providers"]} == {
        "anthropic": "2026-11-03", "openai": None}
    loose = api_client.get("/api/v1/reconcile", {"start": "2026-11-01", "end": "2026-11-04", "tolerance": "2"})
    assert loose.json()["total"]["flagged"] == 2
    bad = api_client.get("/api/v1/reconcile", {"start": "2026-11-01", "end": "2026-11-04", "tolerance": "3"})
    assert bad.status_code == 400 and "tolerance" in bad.json()["detail"]
