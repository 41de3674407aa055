"""A new user's path: upload the console CSV in the browser, watch it import, see the spend."""

from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "samples" / "anthropic_console_usage.csv"


def test_upload_console_csv_then_overview_shows_the_spend(logged_in_page, project, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    page = logged_in_page
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Imports").click()
    page.wait_for_url(f"**/p/{project.slug}/imports/")
    assert "No imports yet." in page.inner_text("main")

    page.set_input_files("input[type=file]", str(SAMPLE))
    page.get_by_role("button", name="Import").click()

    summary = page.locator("[data-testid=import-summary]")
    summary.wait_for(timeout=20_000)
    assert page.inner_text("[data-testid=import-format]") == "Anthropic Console usage export (claude_api_tokens_*.csv)"
    assert page.inner_text("[data-testid=records-added]") == "7"
    assert page.inner_text("[data-testid=cost-added]") == "$86.14"  # tokens $85.92 + 22 web searches
    # the history table was refreshed out of band
    assert page.locator("#import-history tbody tr").count() == 1
    assert "anthropic_console_usage.csv" in page.inner_text("#import-history")

    page.click("[data-testid=import-days]")
    page.wait_for_url(f"**/p/{project.slug}/?range=custom&start=2026-03-09&end=2026-03-10&ledger=billed")
    # billed ledger (no metered data): $86.1448758 over the two days (incl. $0.22 web search)
    assert "86.14" in page.inner_text("[data-testid=period-total]")
