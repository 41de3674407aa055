"""A new user's path: connect a (fake, local) Anthropic admin API on the Connections page,
sync, and find the billed ledger, the key names and the Reconcile page filled."""

import pytest

from tests.usage.fake_providers import ANTHROPIC_KEY, Fake, serve


@pytest.fixture
def fake(settings):
    fake = Fake()
    server, url = serve(fake)
    settings.ANTHROPIC_ADMIN_API_URL = url
    settings.PROVIDER_SYNC_DAYS = 400  # the samples are of March 2026
    yield fake
    server.shutdown()
    server.server_close()


def test_connect_sync_and_see_billed_spend_with_key_names(logged_in_page, project, fake):
    page = logged_in_page
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Connections").click()
    page.wait_for_url(f"**/p/{project.slug}/connections/")
    card = page.locator("[data-testid=connection-anthropic]")
    card.locator("input[name=key]").fill(ANTHROPIC_KEY)
    card.get_by_role("button", name="Save key").click()
    page.wait_for_load_state("networkidle")
    assert page.inner_text("[data-testid=key-prefix]") == "sk-ant-admin01…"
    assert ANTHROPIC_KEY not in page.content()
    card.get_by_role("button", name="Test connection").click()
    page.wait_for_load_state("networkidle")
    assert "the admin key works" in page.inner_text("main")
    card.get_by_role("button", name="Sync now").click()  # eager Celery: runs in the request
    page.wait_for_load_state("networkidle")

    page.get_by_role("link", name="Imports").click()
    page.wait_for_url(f"**/p/{project.slug}/imports/")
    assert "Anthropic sync" in page.inner_text("[data-testid=sync-history]")

    page.goto(f"/p/{project.slug}/breakdown/?by=api_key&range=custom&start=2026-03-09&end=2026-03-10&ledger=billed")
    table = page.inner_text("#table-card")
    assert "research-notebooks" in table and "prod-backend" in table
    assert "$86.14" in page.inner_text("main")  # tokens + web search, as the cost report says

    page.goto(f"/p/{project.slug}/reconcile/?range=custom&start=2026-03-09&end=2026-03-10")
    assert "claude-opus-4-6" in page.inner_text("main")
