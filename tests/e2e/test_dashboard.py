"""The dashboard in a real browser: filters swap partials without a reload, drill-down,
CSV export, history. The `page` fixture fails the test on any console error or CSP
violation."""

import csv
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def data(project, transactional_db):
    from usage.ingest import record_usage
    from usage.records import Record

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    records = []
    for i in range(40):
        day = now - timedelta(days=i % 20, hours=i % 3)
        records.append(Record(
            external_id=f"e{i}", timestamp=day,
            model=["claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o-mini"][i % 3],
            feature=["chat", "search", "=cmd()"][i % 3 if i % 5 else 1],
            end_user=f"user-{i % 4}", api_key="prod" if i % 2 else "dev",
            input_tokens=1000 + i * 10, output_tokens=200, cache_read_tokens=500 * (i % 2),
        ))
    record_usage(project=project, source="api", records=records)
    return project


def read_csv(download) -> list[dict]:
    with open(download.value.path(), encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def summary(page) -> str:
    return " ".join(page.locator(".filter-summary").first.inner_text().split())


def chart_drawn(page, selector: str = ".chart[data-figure]") -> None:
    page.wait_for_function(
        "s => { const d = document.querySelector(s); return d && d.querySelector('.main-svg'); }",
        arg=selector,
    )


def test_overview_filter_swaps_chart_without_reload(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/")
    chart_drawn(page, "[data-testid=daily-chart]")
    assert page.locator("[data-testid=period]").inner_text().startswith("Last 30 days")
    page.evaluate("window.__noReload = 42; document.querySelector('[data-testid=daily-chart]').__old = 1")

    page.select_option("select[name=range]", "7d")
    page.wait_for_url("**range=7d**")
    page.wait_for_function("() => document.querySelector('[data-testid=period]').innerText.startsWith('Last 7 days')")
    chart_drawn(page, "[data-testid=daily-chart]")
    assert page.evaluate("window.__noReload") == 42
    assert page.evaluate("document.querySelector('[data-testid=daily-chart]').__old") is None
    days = page.evaluate("document.querySelector('[data-testid=daily-chart]').data[0].x.length")
    assert days == 7
    # the other pages' nav links carry the new filters
    href = page.get_attribute("nav.tabs a[data-filters]:has-text('Breakdown')", "href")
    assert href.endswith("/breakdown/?range=7d")

    # stack by feature: only the chart card is swapped, the URL keeps both parameters
    page.click("#daily-card nav.seg >> text=Feature")
    page.wait_for_url("**stack=feature**")
    chart_drawn(page, "[data-testid=daily-chart]")
    names = page.evaluate("document.querySelector('[data-testid=daily-chart]').data.map(t => t.name)")
    assert set(names) <= {"chat", "search", "=cmd()"} and "search" in names
    assert "range=7d" in page.url
    assert page.evaluate("window.__noReload") == 42

    # a filter change keeps the stack choice (it travels with the form)
    page.select_option("select[name=model]", "claude-haiku-4-5")
    page.wait_for_url("**model=claude-haiku-4-5**")
    assert "stack=feature" in page.url
    assert "Model: claude-haiku-4-5" in summary(page)
    assert "ledger=" not in page.url and "feature=" not in page.url  # empty fields left out

    # back restores the previous state; reload gives the same page from the URL
    page.go_back()
    page.wait_for_url(lambda url: "model=" not in url)
    chart_drawn(page, "[data-testid=daily-chart]")
    page.reload()
    chart_drawn(page, "[data-testid=daily-chart]")
    assert page.locator("[data-testid=period]").inner_text().startswith("Last 7 days")


def test_breakdown_drill_down_to_records_and_export(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/breakdown/")
    chart_drawn(page)
    page.click("nav.seg.big >> text=Feature")
    page.wait_for_url("**by=feature**")
    table = page.locator("[data-testid=breakdown-table]")
    assert "search" in table.inner_text()

    # sort by requests: only the table card is swapped
    page.evaluate("window.__noReload = 7")
    page.click("[data-testid=breakdown-table] th >> text=Requests")
    page.wait_for_url("**sort=requests**")
    assert page.evaluate("window.__noReload") == 7

    # click a row: everything is filtered by it
    page.click("[data-testid=breakdown-table] td.name >> text=search")
    page.wait_for_url("**feature=search**")
    assert "Feature: search" in summary(page)
    assert page.evaluate("window.__noReload") == 7

    # export the table as CSV
    with page.expect_download() as download:
        page.click("[data-testid=export-breakdown]")
    rows = read_csv(download)
    assert rows and all(r["user"].startswith("user-") for r in rows)

    # drill down to the records behind a row
    page.click("[data-testid=breakdown-table] a.drill >> nth=0")
    page.wait_for_url("**/records/**")
    records = page.locator("[data-testid=records-table] tbody tr")
    assert records.count() > 0
    assert all("search" in t for t in records.all_inner_texts())

    with page.expect_download() as download:
        page.click("[data-testid=export-records]")
    rows = read_csv(download)
    assert rows and {r["feature"] for r in rows} == {"search"}


def test_formula_feature_is_escaped_in_csv(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/breakdown/?by=feature")
    with page.expect_download() as download:
        page.click("[data-testid=export-breakdown]")
    features = [r["feature"] for r in read_csv(download)]
    assert "'=cmd()" in features and "=cmd()" not in features


def test_tokens_and_records_pages_render(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/tokens/")
    chart_drawn(page, "[data-testid=tokens-chart]")
    assert page.locator("[data-testid=hit-rate]").inner_text().endswith("%")
    page.click("nav.tabs >> text=Records")
    page.wait_for_url("**/records/**")
    assert page.locator("[data-testid=records-table] tbody tr").count() == 40


def test_phone_width_has_no_horizontal_page_scroll(browser, live_server, user, data):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    for path in ["", "breakdown/", "tokens/", "records/", "reconcile/", "budgets/", "imports/", "keys/"]:
        page.goto(f"/p/{data.slug}/{path}")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        # every chart's legend stays inside its card
        spill = page.evaluate("""() => [...document.querySelectorAll('.card .chart .legend')].filter(l => {
            const c = l.closest('.card').getBoundingClientRect(), r = l.getBoundingClientRect();
            return r.right > c.right + 1 || r.left < c.left - 1 || r.bottom > c.bottom + 1; }).length""")
        assert spill == 0, path
    # the tab bar scrolls and says so: a fade on the side with more tabs, the current tab in view
    page.goto(f"/p/{data.slug}/keys/")
    nav = page.locator("nav.tabs")
    assert page.evaluate("n => n.scrollWidth > n.clientWidth", nav.element_handle())
    assert "more-left" in nav.get_attribute("class")
    current = page.locator("nav.tabs [aria-current=page]").bounding_box()
    assert current["x"] >= 0 and current["x"] + current["width"] <= 390
    context.close()


def test_revoking_a_key_asks_first(logged_in_page, project):
    from costwatch.tenant.keys import create_key

    create_key(project, name="prod")
    page = logged_in_page
    page.goto(f"/p/{project.slug}/keys/")
    messages = []
    page.once("dialog", lambda d: (messages.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Revoke").click()
    assert messages and "Revoke the key “prod”" in messages[0]
    assert "active" in page.get_by_test_id("keys-table").inner_text()  # dismissed: nothing revoked
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_load_state("networkidle")
    assert "revoked" in page.get_by_test_id("keys-table").inner_text()


def test_clicking_a_bar_opens_the_records_behind_it(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/?stack=feature")
    chart_drawn(page, "[data-testid=daily-chart]")
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    # what Plotly emits for a click on the "search" segment of that day's bar
    page.evaluate(
        "d => document.querySelector('[data-testid=daily-chart]')"
        ".emit('plotly_click', {points: [{x: d, data: {name: 'search'}}]})",
        day,
    )
    page.wait_for_url("**/records/**")
    assert f"day={day}" in page.url and "feature=search" in page.url
    rows = page.locator("[data-testid=records-table] tbody tr").all_inner_texts()
    assert rows and all("search" in r for r in rows)
    assert "Day:" in page.locator("[data-testid=day-chip]").inner_text()


def test_clicking_anywhere_on_a_row_filters_by_it(logged_in_page, data):
    page = logged_in_page
    page.goto(f"/p/{data.slug}/breakdown/?by=user")
    page.locator("[data-testid=breakdown-table] tbody tr", has_text="user-1").locator("td.num").nth(2).click()
    page.wait_for_url("**user=user-1**")
    assert "End user: user-1" in summary(page)


def test_reconcile_tolerance_swaps_without_reload_and_exports(logged_in_page, project, transactional_db):
    from tests.usage.reports.test_reconcile import seed

    seed(project)  # hand-computed metered vs billed cells, Nov 1–4, 2026
    page = logged_in_page
    page.goto(f"/p/{project.slug}/reconcile/?range=custom&start=2026-11-01&end=2026-11-04")
    chart_drawn(page, "[data-figure=fig-reconcile]")
    assert page.locator("[data-testid=rec-flagged]").inner_text() == "3"
    assert page.locator("[data-testid=rec-flagged-table] tbody tr").count() == 3
    page.evaluate("window.__noReload = 7")
    page.click("nav.seg[aria-label=Tolerance] >> text=±2 %")
    page.wait_for_url("**tol=2**")
    page.wait_for_function("() => document.querySelector('[data-testid=rec-flagged]').innerText === '2'")
    assert page.evaluate("window.__noReload") == 7
    with page.expect_download() as download:
        page.click("[data-testid=export-reconcile]")
    rows = read_csv(download)
    assert len(rows) == 7
    # the export follows the page's tolerance (±2 %: the −1.96 % day matches)
    assert sorted(r["status"] for r in rows if r["day_utc"] == "2026-11-02") == ["match", "missing from billed"]
