"""The Insights pages in a real browser: each page draws, typing and keyboard work, links
lead to the evidence, and a 390 px phone has no horizontal page scroll. With
COSTWATCH_SHOTS=<dir> each page is also saved as a screenshot there."""

import os
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_dashboard import chart_drawn

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("COSTWATCH_SHOTS", "")


def shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"e2e-{name}.png"), full_page=True)


@pytest.fixture
def data(project, transactional_db):
    from usage.ingest import record_usage
    from usage.records import Record

    # One minute past each UTC midnight: every one of the last 60 days (today included) has its
    # records whatever the hour the test runs at (an hour before "now" missed today before 01:00).
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    records = []
    for i in range(60):
        at = midnight - timedelta(days=i) + timedelta(minutes=1)
        # chat on haiku, $10 a day; search on sonnet, $3 a day; three days ago chat ran 4×
        records.append(Record(external_id=f"c{i}", timestamp=at, model="claude-haiku-4-5", feature="chat",
                              input_tokens=40_000_000 if i == 3 else 10_000_000))
        records += [Record(external_id=f"s{i}-{k}", timestamp=at, model="claude-sonnet-4-5", feature="search",
                           input_tokens=100_000) for k in range(10)]
    record_usage(project=project, source="api", records=records)
    return project


def test_explain_page_draws_and_filters_by_typing(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/")
    assert page.locator("[data-testid=why]").inner_text().startswith("Why:")
    page.click("nav.tabs >> text=Insights")
    page.wait_for_url("**/insights/**")
    chart_drawn(page, "[data-testid=waterfall]")
    assert "Shapley" in page.locator("details.method").inner_text()
    shot(page, "explain")
    page.fill("input[name=feature]", "search")
    page.keyboard.press("Enter")
    page.wait_for_url("**feature=search**")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=by-feature] tbody tr').length === 1")
    assert "search" in page.locator("[data-testid=by-feature]").inner_text()


def test_whatif_from_the_keyboard(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/insights/whatif/")
    page.select_option("[data-testid=scenario]", "model")
    page.locator("[data-testid=to-model]").type("claude-haiku-4-5")
    # Tab through the remaining fields to the Run button, then Enter
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "run":
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**to_model=claude-haiku-4-5**")
    chart_drawn(page, "[data-testid=whatif-chart]")
    # search: 30 days × 1M on sonnet ($3) -> haiku ($1): saves $2 a day
    assert page.locator("[data-testid=whatif-description]").inner_text().startswith("Every request on claude-haiku-4-5")
    assert page.locator("[data-testid=saving]").inner_text() == "$60.00"
    shot(page, "whatif")


def test_anomalies_link_to_the_days_records(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/insights/anomalies/")
    chart_drawn(page, "[data-testid=anomaly-chart]")
    table = page.locator("[data-testid=anomalies]")
    assert "whole project" in table.inner_text()
    shot(page, "anomalies")
    day = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    table.locator("tr", has_text="chat").locator("a", has_text="Records").click()
    page.wait_for_url("**/records/**")
    assert f"day={day}" in page.url and "feature=chat" in page.url
    assert page.locator("[data-testid=records-table] tbody tr").count() == 1


def test_subscriptions_examples_and_chart(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/insights/subscriptions/")
    page.click("[data-testid=add-examples]")
    page.wait_for_selector("[data-testid=verdict]")
    assert page.locator("[data-testid=verdict]").count() == 3
    chart_drawn(page, "[data-testid=breakeven-chart]")
    shot(page, "subscriptions")


def test_insights_pages_fit_a_phone(browser, live_server, user, data):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    for path in ["", "whatif/?scenario=no_cache", "anomalies/", "subscriptions/"]:
        page.goto(f"/p/{data.slug}/insights/{path}")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        shot(page, "phone-" + (path.split("/")[0] or "explain"))
    context.close()
