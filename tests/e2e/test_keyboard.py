"""Filters from the keyboard: typing a date never reloads mid-typing, arrow keys on a select
do not reload at every step, and focus stays where it was after the swap."""

import pytest

from tests.e2e.test_dashboard import data  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def page_requests(page, slug: str) -> list[str]:
    """The HTMX page requests the browser makes from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if f"/p/{slug}/" in r.url and r.headers.get("hx-request") else None)
    return seen


def test_typing_a_date_applies_once_after_the_complete_date(logged_in_page, data):  # noqa: F811
    page = logged_in_page
    page.goto(f"/p/{data.slug}/?range=custom&start=2026-11-01&end=2026-11-30")
    page.evaluate("window.__noReload = 1")
    seen = page_requests(page, data.slug)

    start = page.locator("input[name=start]")
    start.focus()
    # month, day, then the four year digits, one key at a time like a person
    for key in "11052026":
        page.keyboard.type(key)
        page.wait_for_timeout(150)
        assert seen == [], f"reloaded after typing {key!r}"
    # a complete date applies by itself after a short pause
    page.wait_for_url("**start=2026-11-05**", timeout=5000)
    page.wait_for_load_state("networkidle")
    assert len(seen) == 1
    assert page.evaluate("window.__noReload") == 1
    assert page.evaluate("document.activeElement && document.activeElement.name") == "start"
    assert "Nov 5 – Nov 30, 2026" in page.locator("[data-testid=period]").inner_text()

    # Tab to "To", type, press Enter: applies at once, focus stays in "To"
    # (Chromium tabs through the month / day / year parts of a date field first)
    for _ in range(6):
        if page.evaluate("document.activeElement.name") == "end":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "end"
    page.keyboard.type("11202026")
    page.keyboard.press("Enter")
    page.wait_for_url("**end=2026-11-20**", timeout=5000)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.activeElement && document.activeElement.name") == "end"
    assert "Nov 5 – Nov 20, 2026" in page.locator("[data-testid=period]").inner_text()
    assert len(seen) == 2


def test_arrow_keys_on_the_range_select_apply_once(logged_in_page, data):  # noqa: F811
    page = logged_in_page
    page.goto(f"/p/{data.slug}/")
    seen = page_requests(page, data.slug)
    select = page.locator("select[name=range]")
    select.focus()
    page.keyboard.press("ArrowDown")  # 30d -> 90d
    page.wait_for_timeout(120)
    page.keyboard.press("ArrowDown")  # -> this month
    page.wait_for_timeout(120)
    page.keyboard.press("ArrowUp")    # -> 90d
    page.wait_for_timeout(200)
    assert seen == []
    page.wait_for_url("**range=90d**", timeout=5000)
    page.wait_for_load_state("networkidle")
    assert len(seen) == 1
    assert page.evaluate("document.activeElement && document.activeElement.name") == "range"
    assert page.locator("[data-testid=period]").inner_text().startswith("Last 90 days")


def test_choosing_custom_opens_the_dates_without_reloading(logged_in_page, data):  # noqa: F811
    page = logged_in_page
    page.goto(f"/p/{data.slug}/")
    seen = page_requests(page, data.slug)
    page.select_option("select[name=range]", "custom")
    start = page.locator("input[name=start]")
    start.wait_for(state="visible")
    page.wait_for_timeout(1500)
    assert seen == []
    # the Apply button is the deliberate action
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**range=custom**")
    assert len(seen) == 1
