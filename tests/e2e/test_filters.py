"""Filters: known values offered from the rollups, prefix / contains matching from the
keyboard, and the phone's folded filters can be opened."""

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def features(project, transactional_db):
    from usage.ingest import record_usage
    from usage.records import Record

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    # 1M input tokens of claude-haiku-4-5 = $1.00 each
    records = [Record(external_id=f"r{i}", timestamp=now, model="claude-haiku-4-5", feature=name,
                      end_user=f"user-{i:04d}", input_tokens=1_000_000, output_tokens=0)
               for i, name in enumerate(["claude-code", "code-review", "chat", "Codex helper", "search"])]
    record_usage(project=project, source="api", records=records)
    return project


def login(page, user):
    page.goto("/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_known_values_and_pattern_matching_from_the_keyboard(logged_in_page, features):
    page = logged_in_page
    page.goto(f"/p/{features.slug}/breakdown/?by=feature")
    options = page.eval_on_selector_all("#known-feature option", "els => els.map(e => e.value)")
    assert options == ["Codex helper", "chat", "claude-code", "code-review", "search"]
    users = page.eval_on_selector_all("#known-user option", "els => els.length")
    assert users == 5

    field = page.locator("input[name=feature]")
    field.focus()
    page.keyboard.type("*code*")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "feature=*code*" in url or "feature=%2Acode%2A" in url)
    table = page.locator("[data-testid=breakdown-table] tbody").inner_text()
    # contains, case-insensitive: claude-code, code-review, Codex helper ($1.00 each)
    assert "claude-code" in table and "code-review" in table and "Codex helper" in table
    assert "chat" not in table and "search" not in table
    assert "$3.00" in page.locator("[data-testid=breakdown-table] tfoot").inner_text()
    assert page.evaluate("document.activeElement.name") == "feature"

    field = page.locator("input[name=feature]")
    field.fill("")
    page.keyboard.type("code*")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "feature=code*" in url or "feature=code%2A" in url)
    table = page.locator("[data-testid=breakdown-table] tbody").inner_text()
    assert "code-review" in table and "Codex helper" in table and "claude-code" not in table


def test_phone_filters_open_with_more_filters(browser, live_server, user, features):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, user)
    page.goto(f"/p/{features.slug}/")
    feature = page.locator("input[name=feature]")
    apply = page.get_by_role("button", name="Apply")
    assert apply.is_visible()
    assert not feature.is_visible()
    more = page.locator("[data-more-filters]")
    assert more.inner_text() == "More filters"
    more.focus()
    page.keyboard.press("Enter")
    assert more.get_attribute("aria-expanded") == "true"
    assert feature.is_visible()
    feature.focus()
    page.keyboard.type("chat")
    page.keyboard.press("Enter")
    page.wait_for_url("**feature=chat**")
    # still open after the swap, and the page does not scroll sideways
    assert page.locator("input[name=user]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
