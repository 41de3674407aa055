def test_login_and_overview_have_no_console_or_csp_errors(logged_in_page, project):
    page = logged_in_page
    page.goto(f"/p/{project.slug}/")
    assert page.locator("h1").first.inner_text().startswith("Overview")
    # CSP violations are reported on the console as errors; the fixture fails on them.
    # an empty project has no chart yet: the chart library is not even downloaded
    assert page.evaluate("typeof Plotly") == "undefined"
