"""Claude Code sessions and 5-hour blocks: the active block's burn rate, the sessions of a
project chosen from the keyboard, at phone width too."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def logs(project, transactional_db):
    """An active block (haiku, $1 an hour ago and $1 now-ish) and an older session in another
    project: sonnet, 100K input = $0.30 at 10:00, 10:30 and 16:00 three days ago (two blocks)."""
    from usage.ingest import record_usage
    from usage.records import Record

    now = datetime.now(UTC)
    older = (now - timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)

    def turn(i, ts, model, project_name, session):
        tokens = 1_000_000 if model == "claude-haiku-4-5" else 100_000
        return Record(external_id=f"msg_{i}", timestamp=ts, model=model, feature=project_name,
                      input_tokens=tokens, metadata={"session_id": session})

    record_usage(project=project, source="claude_code", records=[
        turn(1, now - timedelta(minutes=61), "claude-haiku-4-5", "costwatch", "aaaa1111-active"),
        turn(2, now - timedelta(minutes=1), "claude-haiku-4-5", "costwatch", "aaaa1111-active"),
        turn(3, older, "claude-sonnet-4-5", "other-app", "bbbb2222-older"),
        turn(4, older + timedelta(minutes=30), "claude-sonnet-4-5", "other-app", "bbbb2222-older"),
        turn(5, older + timedelta(hours=6), "claude-sonnet-4-5", "other-app", "bbbb2222-older"),
    ])
    return now


def money(text: str) -> Decimal:
    return Decimal(text.split("/")[0].replace("$", "").replace(",", ""))


def test_active_block_burn_rate_and_sessions_by_project_from_the_keyboard(logged_in_page, project, logs):
    page = logged_in_page
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Sessions", exact=True).click()
    page.wait_for_url("**/sessions/")
    assert page.inner_text("[data-testid=block-cost]") == "$2.00"
    assert page.inner_text("[data-testid=burn-rate]") == "$2.00/h"  # $2 over the 60 minutes between turns
    # block: from the full hour of the first turn, 5 hours; $2/h until its end
    start = (logs - timedelta(minutes=61)).replace(minute=0, second=0, microsecond=0)
    hours_left = Decimal((start + timedelta(hours=5) - logs).total_seconds()) / 3600
    projected = money(page.inner_text("[data-testid=block-projected]"))
    assert abs(projected - (2 + 2 * hours_left)) < Decimal("0.02")
    rows = page.locator("[data-testid=sessions-table] tbody tr")
    assert rows.count() == 2
    assert "aaaa1111" in rows.nth(0).inner_text() and "$2.00" in rows.nth(0).inner_text()
    older = rows.nth(1).inner_text()
    assert "other-app" in older and "6 h 00 min" in older and "$0.90" in older
    assert page.locator("[data-testid=blocks-table] tbody tr").count() == 3

    # choose a project from the keyboard, apply with Enter on the button
    page.locator("#sessions-project").focus()
    page.keyboard.press("ArrowDown")  # All -> costwatch
    page.keyboard.press("ArrowDown")  # -> other-app
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Apply"
    page.keyboard.press("Enter")
    page.wait_for_url("**feature=other-app**")
    assert page.locator("[data-testid=sessions-table] tbody tr").count() == 1
    assert page.get_by_test_id("no-active-block").is_visible()
    assert "$0.90" in page.inner_text("[data-testid=period]")


def test_sessions_at_phone_width_and_without_logs(logged_in_page, project, logs):
    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/p/{project.slug}/sessions/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.get_by_test_id("block-cost").is_visible()
    assert "UTC" in page.get_by_test_id("tz-note").inner_text()


def test_without_logs_the_page_says_how_to_import_them(logged_in_page, project):
    page = logged_in_page
    page.goto(f"/p/{project.slug}/sessions/")
    empty = page.get_by_test_id("sessions-empty")
    assert "~/.claude/projects/" in empty.inner_text()
    empty.get_by_role("link", name="Imports").click()
    page.wait_for_url("**/imports/")


def test_an_imported_claude_code_log_links_to_its_sessions(logged_in_page, project, settings, tmp_path):
    from pathlib import Path

    settings.MEDIA_ROOT = tmp_path / "media"
    sample = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "claude_code_session.jsonl"
    page = logged_in_page
    page.goto(f"/p/{project.slug}/imports/")
    page.set_input_files("input[type=file]", str(sample))
    page.get_by_role("button", name="Import").click()
    link = page.get_by_test_id("import-sessions")
    link.wait_for(timeout=30_000)
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/sessions/?range=custom**")
    rows = page.locator("[data-testid=sessions-table] tbody tr")
    assert rows.count() == 1 and "7f3c2a91" in rows.first.inner_text()
