"""The project's tabs stay on one row at desktop widths: a long project name is cut short
(the full name is its tooltip) instead of pushing the last tab onto a second row."""

import pytest

pytestmark = pytest.mark.e2e

TABS = 13


def _rows_and_fit(page) -> tuple[int, bool]:
    """How many rows the tabs take, and whether every tab is fully inside the window."""
    return page.evaluate("""() => {
        const tabs = [...document.querySelectorAll('nav.tabs a')].map(a => a.getBoundingClientRect());
        const tops = new Set(tabs.map(r => Math.round(r.top)));
        return [tops.size, tabs.every(r => r.left >= 0 && r.right <= window.innerWidth)];
    }""")


@pytest.mark.parametrize("name", ["Acme AI (demo)", "Acme Artificial Intelligence Platform — production (EU)"])
def test_thirteen_tabs_fit_one_row_at_1400_px(logged_in_page, project, name):
    project.name = name
    project.save()
    page = logged_in_page
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/p/{project.slug}/connections/")
    assert page.locator("nav.tabs a").count() == TABS
    assert _rows_and_fit(page) == [1, True]
    # nothing hidden behind the row's own scrolling either
    assert page.evaluate("(n => n.scrollWidth <= n.clientWidth)(document.querySelector('nav.tabs'))")
    label = page.locator("nav.tabs .project-name")
    assert label.get_attribute("title") == name
    # the last tab is the current one and is in view without scrolling
    assert page.locator("nav.tabs [aria-current=page]").inner_text() == "Connections"


def test_narrower_windows_scroll_the_one_row_and_tab_reaches_every_tab(logged_in_page, project):
    page = logged_in_page
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(f"/p/{project.slug}/")
    rows, _ = _rows_and_fit(page)
    assert rows == 1
    # from the keyboard: Tab walks the tabs in order, and each focused tab is scrolled into view
    page.locator("nav.tabs a").first.focus()
    for _ in range(TABS - 1):
        page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const a = document.activeElement, r = a.getBoundingClientRect();
        return [a.textContent.trim(), r.left >= 0 && r.right <= window.innerWidth]; }""")
    assert focused == ["Connections", True]
