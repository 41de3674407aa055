"""The key and workspace directory and the workspace dimension: group by / filter on it
in the API and on the pages, names shown (ids on hover and in CSV exports)."""

import csv
import io

import pytest

from tests.usage.test_imports import CONSOLE, SAMPLES, nano
from usage.billed import learn
from usage.imports import run_import
from usage.models import DirectoryEntry, UsageRecord

CLAUDE_CODE_WS = "wrkspc_01MwJ8RkT4vXq2ZpN6cB9sLd"
RESEARCH_WS = "wrkspc_01Pz3LqV8nRt6YkW2mXc5bJh"
# Opus 4.6 ran in the Claude Code workspace on both days; Research, EU had one Sonnet row.
CLAUDE_CODE_COST = CONSOLE[("2026-03-09", "claude-opus-4-6")] + CONSOLE[("2026-03-10", "claude-opus-4-6")]
RESEARCH_COST = nano((50211, 3), (12004, 15))


@pytest.fixture
def report(project, django_capture_on_commit_callbacks):
    learn(project=project, provider="anthropic", origin="provider", entries=[
        ("workspace", CLAUDE_CODE_WS, "Claude Code"), ("workspace", RESEARCH_WS, "Research, EU"),
        ("api_key", "apikey_01Ys5DkW7pHn3QmVr9TfC2xA", "research-notebooks")])
    with django_capture_on_commit_callbacks(execute=True):
        run_import(project=project, paths=[SAMPLES / "anthropic_usage_report.json"])
    return project


def usd(nano_value: int) -> str:
    return f"{nano_value / 1e9:.9f}"


def test_spend_api_groups_and_filters_by_workspace(report, api_client):
    data = api_client.get("/api/v1/spend", {"start": "2026-03-09", "end": "2026-03-10",
                                            "group_by": "workspace", "ledger": "billed"}).json()
    rows = {r["workspace"]: r["cost_usd"] for r in data["rows"]}
    assert rows[CLAUDE_CODE_WS] == usd(CLAUDE_CODE_COST)
    assert rows[RESEARCH_WS] == usd(RESEARCH_COST)
    assert set(rows) == {"", CLAUDE_CODE_WS, RESEARCH_WS}  # '' is the default workspace
    names = {r["workspace"]: r["workspace_name"] for r in data["rows"]}
    assert names == {"": "Default", CLAUDE_CODE_WS: "Claude Code", RESEARCH_WS: "Research, EU"}
    one = api_client.get("/api/v1/spend", {"start": "2026-03-09", "end": "2026-03-10", "ledger": "billed",
                                           "group_by": "day", "workspace": CLAUDE_CODE_WS}).json()
    assert one["total"]["cost_usd"] == usd(CLAUDE_CODE_COST)
    assert [r["day"] for r in one["rows"]] == ["2026-03-09", "2026-03-10"]


def test_breakdown_by_workspace_shows_names_with_the_id_on_hover(report, logged_in):
    html = logged_in.get("/p/acme/breakdown/", {"by": "workspace", "range": "custom", "start": "2026-03-09",
                                                "end": "2026-03-10", "ledger": "billed"}).content.decode()
    assert f'<span title="{CLAUDE_CODE_WS}">Claude Code</span>' in html
    assert f'<span title="{RESEARCH_WS}">Research, EU</span>' in html
    assert '<span title="workspace_id: null">Default</span>' in html
    # the filter bar offers the workspaces by name
    assert f'<option value="{RESEARCH_WS}">Research, EU</option>' in html


def test_filtering_a_page_by_workspace(report, logged_in):
    html = logged_in.get("/p/acme/breakdown/", {"by": "api_key", "range": "custom", "start": "2026-03-09",
                                                "end": "2026-03-10", "ledger": "billed",
                                                "workspace": RESEARCH_WS}).content.decode()
    assert '<span title="apikey_01Ys5DkW7pHn3QmVr9TfC2xA">research-notebooks</span>' in html
    # a key of another workspace is not in the table (the filter bar's suggestions list
    # every key of the range)
    table = html.split('data-testid="breakdown-table"', 1)[1]
    assert "apikey_01Hq7ZtVn3KcE2mWa5pT9rYb" not in table


def test_records_export_has_ids_and_names(report, logged_in):
    response = logged_in.get("/p/acme/export/records.csv", {"range": "custom", "start": "2026-03-09",
                                                          "end": "2026-03-10", "ledger": "billed"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    research = next(r for r in rows if r["workspace"] == RESEARCH_WS)
    assert (research["workspace_name"], research["api_key"], research["api_key_name"]) == (
        "Research, EU", "apikey_01Ys5DkW7pHn3QmVr9TfC2xA", "research-notebooks")


def test_keys_page_edits_the_directory_and_the_users_name_wins(report, logged_in):
    entry = DirectoryEntry.objects.get(ident=RESEARCH_WS)
    response = logged_in.post("/p/acme/keys/", {"directory": "1", "entry": entry.pk, "label": "Research (EU)"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.name, entry.origin) == ("Research (EU)", "user")
    learn(project=report, provider="anthropic", entries=[("workspace", RESEARCH_WS, "Research, EU")], origin="provider")
    entry.refresh_from_db()
    assert entry.name == "Research (EU)"
    html = logged_in.get("/p/acme/keys/").content.decode()
    assert 'value="Research (EU)"' in html and RESEARCH_WS in html


def test_adding_a_mapping_turns_stored_names_into_ids(project, logged_in):
    run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    assert UsageRecord.objects.filter(workspace="Research, EU").count() == 1
    logged_in.post("/p/acme/keys/", {"directory": "1", "provider": "anthropic", "kind": "workspace",
                                     "ident": RESEARCH_WS, "label": "Research, EU"})
    assert UsageRecord.objects.filter(workspace=RESEARCH_WS).count() == 1
    assert not UsageRecord.objects.filter(workspace="Research, EU").exists()
