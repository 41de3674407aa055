"""Accessibility: an axe-core scan of every page (light and dark, 1400 and 390 px) finds no
serious or critical violation and no page wider than a phone; charts have their numbers as
a table and can be drilled from the keyboard; a skip link leads past the navigation. axe-core comes from the
axe-playwright-python package (dev extra) and runs in the page under its real CSP.

COSTWATCH_UI_SHOTS=1 also saves a full-page screenshot of each page, width and scheme in
/tmp/ui-shots (to look at; nothing is asserted on them)."""

import os
from datetime import timedelta
from pathlib import Path

import axe_playwright_python
import pytest
from django.utils import timezone

from billing.models import AlertEvent
from tests.billing.factories import make_budget
from tests.e2e.test_dashboard import chart_drawn, data  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e

AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
PAGES = ["", "?granularity=week", "breakdown/", "tokens/", "records/", "records/?day={today}", "reconcile/",
         "insights/", "insights/whatif/", "insights/anomalies/", "insights/subscriptions/",
         "insights/recommendations/", "sessions/", "report/", "budgets/", "prices/", "imports/", "keys/",
         "connections/"]
SHOTS = Path("/tmp/ui-shots")
BACKGROUND = {"light": "rgb(245, 246, 248)", "dark": "rgb(15, 17, 21)"}  # app.css's --bg
SCAN = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"""


def login(page, user):
    page.goto("/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("width", [1400, 390])
def test_axe_finds_no_serious_violation_on_any_page(browser, live_server, user, data, width):  # noqa: F811
    """Each page is loaded once at its width and scanned in the light scheme, then in the
    dark one (the media emulation switched on the loaded page: the schemes differ in
    app.css's colours only, and no script reads the scheme)."""
    from usage.ingest import record_usage
    from usage.records import Record

    now = timezone.now()
    record_usage(project=data, source="claude_code", records=[
        Record(external_id=f"cc{i}", timestamp=now - timedelta(minutes=40 * i), model="claude-sonnet-4-5",
               feature="costwatch", input_tokens=20_000, output_tokens=2_000, cache_read_tokens=50_000,
               metadata={"session_id": f"5e551{i // 3}-0000"}) for i in range(6)
    ])
    budget = make_budget(data, amount_usd=1)
    AlertEvent.objects.create(budget=budget, period_start=timezone.now().date().replace(day=1), threshold=50)
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, user)
    found = {}
    shots = os.environ.get("COSTWATCH_UI_SHOTS") == "1"
    if shots:
        SHOTS.mkdir(exist_ok=True)
    for path in PAGES:
        page.emulate_media(color_scheme="light")
        page.goto(f"/p/{data.slug}/{path.format(today=now.date())}")
        page.wait_for_load_state("networkidle")
        page.evaluate(AXE)
        name = path.split("?")[0].strip("/").replace("/", "-") or "overview"
        name += "-" + path.split("=")[0].split("?")[1] if "?" in path else ""
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == BACKGROUND[scheme], (path, scheme, background)  # the scheme took
            violations = page.evaluate(SCAN)
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:  # a page wider than the phone scrolls sideways
                violations.append(f"the page is {wide} px wide")
            if violations:
                found[f"{name} at {width} px, {scheme}"] = violations
            if shots:
                page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
    context.close()
    assert not found, found
    assert not errors, errors


def test_charts_have_a_table_and_drill_down_from_the_keyboard(logged_in_page, data):  # noqa: F811
    page = logged_in_page
    page.goto(f"/p/{data.slug}/?stack=feature")
    chart_drawn(page, "[data-testid=daily-chart]")
    chart = page.get_by_test_id("daily-chart")
    assert chart.get_attribute("role") == "img" and "table below" in chart.get_attribute("aria-label")
    table = page.locator("details.chart-table[data-for=fig-daily]")
    summary = table.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")  # opens the table
    assert table.get_attribute("open") is not None
    header = table.locator("thead").text_content()
    assert "search" in header and "chat" in header
    # Tab into the table: the first link is a day × feature cell; Enter opens its records
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.closest('details.chart-table') !== null")
    if not focused:  # the scroll region itself takes focus first
        page.keyboard.press("Tab")
    href = page.evaluate("document.activeElement.getAttribute('href')")
    assert href and "/records/" in href and "day=" in href
    page.keyboard.press("Enter")
    page.wait_for_url("**/records/**day=**")
    assert page.locator("[data-testid=records-table] tbody tr").count() > 0


def test_skip_link_jumps_past_the_navigation(logged_in_page, data):  # noqa: F811
    page = logged_in_page
    page.goto(f"/p/{data.slug}/keys/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
