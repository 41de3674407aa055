"""Labels and formats as a person reads them, after importing a console export only."""

from pathlib import Path

import pytest

from costwatch.clock import utc_today

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "samples" / "anthropic_console_usage.csv"
RANGE = "range=custom&start=2026-03-08&end=2026-03-10"


@pytest.fixture
def console(project, transactional_db):
    from usage.imports import run_import

    run_import(project=project, paths=[SAMPLE])
    return project


def text(page, selector: str) -> str:
    return " ".join(page.inner_text(selector).split())


def test_labels_on_the_billed_pages(logged_in_page, console):
    page = logged_in_page
    page.goto(f"/p/{console.slug}/?{RANGE}")
    period = text(page, "[data-testid=period]")
    assert period.startswith("Mar 8 – Mar 10, 2026 (UTC days)") and period.count("Mar 8") == 1
    kpis = text(page, ".kpis")
    assert "Spend, Mar 8, 2026 – Mar 10, 2026" in kpis  # dates keep their capitals
    assert "requests n/a" in kpis and "0 requests" not in kpis
    today = utc_today()
    label = text(page, ".kpi .label")
    expected = f"({today:%b} 1)" if today.day == 1 else f"({today:%b} 1–{today.day})"
    assert label == f"Month to date {expected}"
    assert "Days are UTC days" in page.inner_text("[data-testid=tz-note]")

    page.goto(f"/p/{console.slug}/breakdown/?{RANGE}")
    footer = text(page, "[data-testid=breakdown-table] tfoot")
    assert "n/a" in footer

    # the app meters OpenAI only: Anthropic is billed but "not metered"
    from datetime import UTC, datetime

    from usage.ingest import record_usage
    from usage.records import Record

    record_usage(project=console, source="api", records=[Record(
        external_id="o1", timestamp=datetime(2026, 3, 9, 12, tzinfo=UTC), model="gpt-4o-mini",
        input_tokens=1000, output_tokens=10)])
    page.goto(f"/p/{console.slug}/reconcile/?{RANGE}")
    assert "Mar 10, 2026 not metered by the app" in text(page, "main")

    # zero costs in CSV and JSON are plain decimals
    with page.expect_download() as download:
        page.goto(f"/p/{console.slug}/breakdown/?{RANGE}")
        page.click("[data-testid=export-breakdown]")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert "E-" not in body
    api = page.evaluate(f"fetch('/api/v1/spend?project={console.slug}&start=2026-03-08&end=2026-03-10&group_by=day&ledger=billed').then(r => r.text())")
    assert '"reported_cost_usd": "0.000000000"' in api and "E-" not in api

    for path in ["budgets/", "imports/", "keys/", "records/"]:
        page.goto(f"/p/{console.slug}/{path}")
        assert "UTC" in page.inner_text("[data-testid=tz-note]")


def test_an_import_can_be_deleted(logged_in_page, console):
    from usage.models import DailyModelUsage, UsageRecord

    assert UsageRecord.objects.filter(project=console).count() == 7
    page = logged_in_page
    page.goto(f"/p/{console.slug}/imports/")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.get_by_role("button", name="Delete the import of anthropic_console_usage.csv").click()
    page.wait_for_load_state("networkidle")
    assert asked and "and its 7 records" in asked[0]
    assert "7 records removed" in page.inner_text(".flash")
    assert UsageRecord.objects.filter(project=console).count() == 0
    assert not DailyModelUsage.objects.filter(project=console).exists()  # days rolled up again
    assert "No imports yet." in page.inner_text("main")
