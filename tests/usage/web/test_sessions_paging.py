"""The Sessions page pages through every session and 5-hour block, 100 per page."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from usage.models import UsageRecord
from usage.partitions import ensure_partitions
from usage.reports.sessions import SOURCE


def _turns(project, count: int) -> None:
    """One turn per session, 6 hours apart: as many sessions as 5-hour blocks."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    ensure_partitions((start + timedelta(hours=6 * i)).date() for i in range(count))
    UsageRecord.objects.bulk_create([
        UsageRecord(project=project, source=SOURCE, external_id=f"turn-{i}", timestamp=ts, day=ts.date(),
                    model="claude-sonnet-4-6", feature="app", input_tokens=10, output_tokens=5,
                    cost_nano=1_000 + i, metadata={"session_id": f"session-{i:04d}"})
        for i in range(count)
        for ts in [start + timedelta(hours=6 * i)]
    ])


def _session_ids(html: str) -> list[str]:
    return re.findall(r'<code title="(session-\d{4})">', html)


@pytest.mark.django_db
def test_every_session_and_block_is_reachable_page_by_page(logged_in, project):
    _turns(project, 230)
    url = f"/p/{project.slug}/sessions/?range=custom&start=2026-11-01&end=2027-01-31"
    seen, query, pages = [], url, 0
    while query:
        html = logged_in.get(query).content.decode()
        seen += _session_ids(html)
        pages += 1
        older = re.search(r'<nav class="pager" aria-label="Sessions pages">.*?<a href="([^"]+)#spage" rel="next"',
                          html, re.S)
        query = f"/p/{project.slug}/sessions/{older.group(1).replace('&amp;', '&')}" if older else None
    assert pages == 3
    assert seen == [f"session-{i:04d}" for i in reversed(range(230))]  # newest first, each once
    last = logged_in.get(url + "&spage=3").content.decode()
    assert "201–230 of 230" in last and "rel=\"next\"" not in last.split('aria-label="Sessions pages"')[1].split("</nav>")[0]
    # the blocks table pages on its own parameter, keeping the sessions page in its links
    html = logged_in.get(url + "&spage=2&bpage=2").content.decode()
    assert "101–200 of 230" in html.split('data-testid="blocks-shown"')[1][:80]
    assert _session_ids(html)[0] == "session-0129"
    blocks_nav = html.split('aria-label="5-hour block pages"')[1].split("</nav>")[0]
    assert "spage=2" in blocks_nav and "bpage=3" in blocks_nav


@pytest.mark.django_db
def test_a_bad_page_number_shows_a_page_instead_of_an_error(logged_in, project):
    _turns(project, 120)
    url = f"/p/{project.slug}/sessions/?range=custom&start=2026-11-01&end=2027-01-31"
    assert _session_ids(logged_in.get(url + "&spage=x").content.decode())[0] == "session-0119"
    assert _session_ids(logged_in.get(url + "&spage=99").content.decode())[0] == "session-0019"


@pytest.mark.django_db
def test_a_hundred_sessions_or_fewer_show_no_pager(logged_in, project):
    _turns(project, 100)
    html = logged_in.get(f"/p/{project.slug}/sessions/?range=custom&start=2026-11-01&end=2027-01-31").content.decode()
    assert len(_session_ids(html)) == 100 and 'class="pager"' not in html
