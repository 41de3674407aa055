"""Page weight: plotly.js is fetched only by pages that draw a chart."""

import pytest

from tests.e2e.test_dashboard import chart_drawn, data  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def scripts_loaded(page, path: str) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.resource_type == "script" else None)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    return seen


def test_plotly_only_on_pages_with_charts(logged_in_page, data):  # noqa: F811
    page = logged_in_page
    for path in ["keys/", "imports/", "budgets/", "records/"]:
        urls = scripts_loaded(page, f"/p/{data.slug}/{path}")
        assert not [u for u in urls if "plotly" in u], path
    page.goto(f"/p/{data.slug}/")
    chart_drawn(page, "[data-testid=daily-chart]")
    assert page.evaluate("typeof window.Plotly") == "object"
    # a swap that brings charts in draws them with the library already there
    page.select_option("select[name=range]", "7d")
    page.wait_for_url("**range=7d**")
    chart_drawn(page, "[data-testid=daily-chart]")
