"""The monthly report: one month's KPIs and charts, top movers vs the month before, the same
numbers as the Overview, shareable by URL, print-friendly, at phone width."""

from datetime import UTC, date, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_months(project, transactional_db):
    """February: haiku chat $1/day ($28) + haiku search $2 = $30. March: haiku chat $1/day
    ($31) + gpt-4o-mini search 10M input ($1.50) = $32.50."""
    from usage.ingest import record_usage
    from usage.records import Record

    def rec(name, day, model, feature, tokens):
        return Record(external_id=name, timestamp=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                      model=model, feature=feature, input_tokens=tokens)

    records = []
    day = date(2026, 2, 1)
    while day <= date(2026, 3, 31):
        records.append(rec(f"chat-{day}", day, "claude-haiku-4-5", "chat", 1_000_000))
        day += timedelta(days=1)
    records.append(rec("search-feb", date(2026, 2, 10), "claude-haiku-4-5", "search", 2_000_000))
    records.append(rec("search-mar", date(2026, 3, 5), "gpt-4o-mini", "search", 10_000_000))
    record_usage(project=project, source="api", records=records)
    return project


def cells(page, testid: str) -> list[list[str]]:
    return [[c.strip() for c in row.locator("td").all_inner_texts()]
            for row in page.locator(f"[data-testid={testid}] tbody tr").all()]


def test_the_march_report_its_movers_and_the_overview_agree(logged_in_page, two_months):
    page = logged_in_page
    page.goto(f"/p/{two_months.slug}/report/?month=2026-03")
    assert page.inner_text("h1") == "Acme — March 2026"
    assert page.inner_text("[data-testid=report-total]") == "$32.50"
    kpi = page.locator(".kpi").first.inner_text()
    assert "+8%" in kpi and "$30.00 in February" in kpi
    assert "Mar 1 – Mar 31, 2026 (UTC days)" in page.inner_text("[data-testid=report-period]")
    assert cells(page, "movers-model") == [["gpt-4o-mini", "$0.00", "$1.50", "+$1.50 (new)"],
                                           ["claude-haiku-4-5", "$30.00", "$31.00", "+$1.00 (+3%)"]]
    assert cells(page, "movers-feature") == [["chat", "$28.00", "$31.00", "+$3.00 (+11%)"],
                                             ["search", "$2.00", "$1.50", "-$0.50 (-25%)"]]
    page.locator(".chart[data-figure=fig-report-daily] .main-svg").first.wait_for()

    # the previous month from the keyboard
    page.get_by_test_id("report-prev").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**month=2026-02**")
    assert page.inner_text("[data-testid=report-total]") == "$30.00"
    page.get_by_test_id("report-next").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**month=2026-03**")

    # the Overview of the same days shows the same total
    page.get_by_role("link", name="Open in Overview").click()
    page.wait_for_url("**range=custom&start=2026-03-01&end=2026-03-31**")
    assert page.inner_text("[data-testid=period-total]") == "$32.50"


def test_the_report_prints_without_the_furniture_and_fits_a_phone(logged_in_page, two_months):
    page = logged_in_page
    page.goto(f"/p/{two_months.slug}/report/?month=2026-03")
    page.locator(".chart[data-figure=fig-report-daily] .main-svg").first.wait_for()
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()
    assert not page.get_by_role("button", name="Print").is_visible()
    assert page.locator(".chart[data-figure=fig-report-daily]").is_visible()
    page.screenshot(path="/tmp/ui-shots/report-print.png", full_page=True)
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.get_by_role("link", name="Report", exact=True).get_attribute("aria-current") == "page"
