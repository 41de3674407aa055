"""After an import: the link opens the ledger and the days just imported; errors name the
uploaded file; an import can be deleted."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "samples" / "anthropic_console_usage.csv"


@pytest.fixture
def metered_too(project, transactional_db):
    """A little metered (Claude Code-like) spend on the same days as the console export."""
    from usage.ingest import record_usage
    from usage.records import Record

    record_usage(project=project, source="claude_code", records=[
        Record(external_id="cc1", timestamp=datetime(2026, 3, 10, 12, tzinfo=UTC), model="claude-haiku-4-5",
               input_tokens=1000, output_tokens=100),
    ])
    return project


def upload(page, path: Path) -> None:
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Import").click()
    page.locator("[data-testid=import-job][data-status=done], [data-testid=import-job][data-status=failed]").wait_for(timeout=30_000)


def test_the_link_after_an_import_opens_its_ledger_and_days(logged_in_page, metered_too, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    page = logged_in_page
    page.goto(f"/p/{metered_too.slug}/imports/")
    upload(page, SAMPLE)
    link = page.get_by_test_id("import-days")
    assert " ".join(link.inner_text().split()) == "See the billed spend of Mar 9 – Mar 10, 2026"
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**range=custom&start=2026-03-09&end=2026-03-10&ledger=billed")
    # the billed ledger, though metered data exists on these days (it would be $0.00…)
    assert "86.14" in page.inner_text("[data-testid=period-total]")
    assert "billed ledger" in page.inner_text("[data-testid=period]")


def test_an_import_error_names_the_uploaded_file(logged_in_page, project, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    bad = tmp_path / "bad_number_line5.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[6] = "12x4"  # usage_input_tokens_no_cache
    lines[3] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = logged_in_page
    page.goto(f"/p/{project.slug}/imports/")
    upload(page, bad)
    error = page.get_by_test_id("import-error").inner_text()
    assert "bad_number_line5.csv" in error
    assert "-bad_number_line5.csv" not in error  # not the stored name (uuid prefix)
    assert "line 4" in error


def test_a_long_import_shows_row_progress_and_money_with_separators(logged_in_page, project, settings, tmp_path):
    """On the embedded default (no broker) the upload is imported in a background thread
    and the page polls the job: rows read climb while it runs, and the other pages answer
    meanwhile (SQLite in WAL mode: readers are not blocked by the import's write)."""
    from django.db import connection

    assert connection.vendor != "sqlite" or connection.cursor().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    settings.MEDIA_ROOT = tmp_path / "media"
    assert settings.CELERY_TASK_ALWAYS_EAGER and settings.IMPORT_IN_THREAD
    header = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    big = tmp_path / "claude_api_tokens_2026_04.csv"
    with big.open("w", encoding="utf-8") as out:
        out.write(header + "\n")
        for i in range(30_000):  # 30,000 distinct (day, key, model) rows, ~$8 each
            day = f"2026-04-{1 + i % 28:02d}"
            out.write(f"{day},claude-sonnet-4-6,key-{i},Default,standard,≤ 200k,1000000,0,0,0,200000,0,global,\n")
    page = logged_in_page
    page.goto(f"/p/{project.slug}/imports/")
    page.set_input_files("input[type=file]", str(big))
    page.get_by_role("button", name="Import").click()
    running = page.locator("[data-testid=import-job][data-status=running] [data-testid=rows-read]")
    running.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => { const e = document.querySelector('[data-testid=rows-read]');"
        " return e && parseInt(e.innerText.replace(/,/g, '')) > 0; }", timeout=60_000)
    seen = int(page.inner_text("[data-testid=rows-read]").replace(",", ""))
    assert 0 < seen <= 30_000
    other = page.context.new_page()
    for path in ("", "records/", "imports/"):
        response = other.goto(f"/p/{project.slug}/{path}")
        assert response.status == 200, path
    assert page.locator("[data-testid=import-job][data-status=running]").count() == 1  # still running
    other.close()
    page.locator("[data-testid=import-job][data-status=done]").wait_for(timeout=240_000)
    # 30,000 × (1M input × $3 + 200K output × $15) / 1M = 30,000 × $6.00
    assert page.inner_text("[data-testid=cost-added]") == "$180,000.00"
    assert "$180,000.00" in page.inner_text("#import-history")
