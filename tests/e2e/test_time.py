"""Time: day / week / month granularity on the charts and their tables, chosen from the
keyboard; a chosen day's spend per UTC hour from its records; every page says its zone."""

from datetime import UTC, date, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e

RANGE = "range=custom&start=2026-03-02&end=2026-04-12"  # Monday Mar 2 … Sunday Apr 12


@pytest.fixture
def spend(project, transactional_db):
    """$1.00 every day at 10:00 UTC (1M haiku input tokens), and $2.00 more on Tue Mar 10 at 14:00."""
    from usage.ingest import record_usage
    from usage.records import Record

    records = []
    day = date(2026, 3, 2)
    while day <= date(2026, 4, 12):
        records.append(Record(external_id=f"d{day}", timestamp=datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
                              model="claude-haiku-4-5", feature="chat", input_tokens=1_000_000))
        day += timedelta(days=1)
    records.append(Record(external_id="extra", timestamp=datetime(2026, 3, 10, 14, 5, tzinfo=UTC),
                          model="claude-haiku-4-5", feature="chat", input_tokens=2_000_000))
    record_usage(project=project, source="api", records=records)
    return project


def chart_table(page, figure: str) -> list[list[str]]:
    table = page.locator(f"details.chart-table[data-for={figure}]")
    table.locator("summary").click()
    return [[c.strip() for c in row.locator("th, td").all_text_contents()]
            for row in table.locator("tr").all()]


def test_weeks_and_months_from_the_keyboard(logged_in_page, spend):
    page = logged_in_page
    page.goto(f"/p/{spend.slug}/?{RANGE}")
    assert "(UTC days)" in page.inner_text("[data-testid=period]")
    page.locator("#filter-granularity").focus()
    page.keyboard.press("ArrowDown")  # Day -> Week; applies after the keyboard pause
    page.wait_for_url("**granularity=week**", timeout=5000)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.activeElement && document.activeElement.name") == "granularity"
    assert page.inner_text("[data-testid=daily-title]") == "Weekly spend by model"
    assert "(UTC weeks, Monday–Sunday)" in page.inner_text("[data-testid=period]")
    rows = chart_table(page, "fig-daily")
    assert rows[0][0] == "Week from Monday (UTC)"
    assert rows[1:] == [["2026-03-02", "$7.00"], ["2026-03-09", "$9.00"], ["2026-03-16", "$7.00"],
                        ["2026-03-23", "$7.00"], ["2026-03-30", "$7.00"], ["2026-04-06", "$7.00"]]
    # a week's cell opens that week's records, from the keyboard
    link = page.locator("details.chart-table[data-for=fig-daily] a").nth(1)
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/records/**")
    assert "start=2026-03-09" in page.url and "end=2026-03-15" in page.url
    assert page.inner_text("[data-testid=records-sum]") == "$9.00"

    # Month, and the nav keeps the granularity to Tokens & caching
    page.goto(f"/p/{spend.slug}/?{RANGE}&granularity=month")
    assert [r[1] for r in chart_table(page, "fig-daily")[1:]] == ["$32.00", "$12.00"]
    page.get_by_role("link", name="Tokens & caching", exact=True).click()
    page.wait_for_url("**/tokens/**granularity=month**")
    assert "per month" in page.inner_text("main")


def test_a_chosen_day_shows_its_spend_per_utc_hour_at_phone_width(logged_in_page, spend):
    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/p/{spend.slug}/records/?{RANGE}&day=2026-03-10")
    card = page.get_by_test_id("hourly-card")
    assert "Mar 10, 2026 (UTC hours)" in card.inner_text()
    rows = chart_table(page, "fig-hourly")
    assert rows[0][0] == "Hour (UTC)" and len(rows) == 25
    costs = {r[0]: r[1] for r in rows[1:]}
    assert costs["10:00"] == "$1.00" and costs["14:00"] == "$2.00" and costs["09:00"] == "$0.00"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert "UTC" in page.get_by_test_id("tz-note").inner_text()
    page.screenshot(path="/tmp/ui-shots/records-hourly-390.png", full_page=True)


def test_the_spend_api_sums_weeks_and_months(logged_in, spend):
    base = f"/api/v1/spend?start=2026-03-02&end=2026-04-12&project={spend.slug}&group_by=day"
    weeks = logged_in.get(base + "&granularity=week").json()
    assert weeks["granularity"] == "week"
    assert [(r["day"], r["cost_usd"]) for r in weeks["rows"]][:2] == [("2026-03-02", "7.000000000"),
                                                                      ("2026-03-09", "9.000000000")]
    months = logged_in.get(base + "&granularity=month").json()
    assert [(r["day"], r["cost_usd"]) for r in months["rows"]] == [("2026-03-01", "32.000000000"),
                                                                   ("2026-04-01", "12.000000000")]
    assert months["total"]["cost_usd"] == "44.000000000"
    assert len(logged_in.get(base).json()["rows"]) == 42  # days, as before
    bad = logged_in.get(base + "&granularity=year")
    assert bad.status_code == 400 and "granularity" in bad.json()["detail"]
