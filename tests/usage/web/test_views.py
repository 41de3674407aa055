"""The dashboard pages: the numbers shown, HTMX partials, drill-down and project scoping.

Expected figures are worked out by hand in tests/usage/dashboard_data.py (today = 2026-11-20,
default range = the last 30 UTC days, Oct 22 – Nov 20)."""

import re
from decimal import Decimal

import pytest

# pages see TODAY as the current UTC day; `data` (tests/usage/conftest.py) seeds the figures
pytestmark = pytest.mark.usefixtures("today")



def text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def by_testid(response, name: str) -> str:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', response.content.decode(), re.S)
    assert match, f"no data-testid={name}"
    return re.sub(r"\s+", " ", match.group(1)).strip()


def test_overview_kpis_show_the_hand_computed_figures(logged_in, data):
    r = logged_in.get("/p/acme/")
    assert r.status_code == 200
    # MTD Nov 1–20: 0.60 + 0.03 + 2.00 + 0.75
    assert by_testid(r, "mtd") == "$3.38"
    page = text(r)
    # Oct 1–20: $0.30, so +1027 %
    assert "+1027% vs $0.30 by Oct 20" in page
    # the one forecast (usage/reports/forecast.py): 2.78 through yesterday + today's 0.60
    # (more than the rate) + 10 days × the rate, the mean of the complete days Nov 1–19
    # without the highest (2.00) and lowest (0): 0.78 / 17 = $0.0459
    assert by_testid(r, "projected") == "$3.84"
    assert "at $0.05/day" in page
    # the last 30 days add Oct 25's $0.30
    assert by_testid(r, "period-total") == "$3.68"
    assert "6 requests · avg $0.12/day" in page
    assert by_testid(r, "extremes") == "$0.00 · $2.00"
    # 100K cache reads of 3.301M prompt tokens
    assert by_testid(r, "hit-rate") == "3.0%"
    assert by_testid(r, "cache-savings") == "$0.27"
    # output: 0.30 (sonnet) + 1.00 (haiku) + 0.60 (batch 4o-mini) of 3.68
    assert by_testid(r, "output-share") == "52%"
    assert "1 unpriced record" in by_testid(r, "unpriced")
    assert "No monthly project budget set" in page


def test_overview_budget_used(logged_in, data):
    from billing.models import Budget

    Budget.objects.create(project=data, name="Monthly", scope="project", period="month",
                          amount_usd=Decimal("10.00"), ledger="metered")
    r = logged_in.get("/p/acme/")
    assert by_testid(r, "budget-used") == "33.8 %"  # 3.38 / 10, as on the Budgets page
    assert "of $10.00 this month (metered)" in text(r)
    figure = r.context["fig_month"]
    budget_line = [t for t in figure["data"] if t["name"] == "Budget"][0]
    assert budget_line["y"] == [10.0, 10.0]
    to_date = [t for t in figure["data"] if t["name"] == "Spend to date"][0]
    assert to_date["y"][-1] == pytest.approx(3.38)


def test_overview_chart_stacks_by_model_then_feature(logged_in, data):
    r = logged_in.get("/p/acme/")
    names = {t["name"]: sum(t["y"]) for t in r.context["fig_daily"]["data"]}
    assert names["claude-haiku-4-5"] == pytest.approx(2.00)
    assert names["claude-sonnet-4-5"] == pytest.approx(0.93)
    r = logged_in.get("/p/acme/?stack=feature")
    names = {t["name"]: sum(t["y"]) for t in r.context["fig_daily"]["data"]}
    assert names == pytest.approx({"chat": 2.90, "search": 0.03, '=HYPERLINK("http://x")': 0.75})


def test_filters_apply_to_every_figure(logged_in, data):
    r = logged_in.get("/p/acme/?feature=chat&range=month")
    # Nov 1–20, feature chat: r1 0.60 + r3 2.00
    assert by_testid(r, "period-total") == "$2.60"
    assert by_testid(r, "mtd") == "$2.60"
    assert "Feature: chat" in text(r)
    r = logged_in.get("/p/acme/?range=custom&start=2026-10-01&end=2026-10-31")
    assert by_testid(r, "period-total") == "$0.60"
    assert "Oct 1 – Oct 31, 2026" in text(r)


def test_htmx_filter_change_returns_only_the_page_partial(logged_in, data):
    r = logged_in.get("/p/acme/?range=7d", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="page")
    html = r.content.decode()
    assert r.status_code == 200
    assert "<html" not in html and "<header" not in html
    assert html.lstrip().startswith('<div id="page">')
    # Nov 14–20: 0.60 + 0.03 + 0.75
    assert by_testid(r, "period-total") == "$1.38"
    assert len(r.content) < 100_000


def test_htmx_stack_switch_returns_only_the_chart_card(logged_in, data):
    r = logged_in.get("/p/acme/?stack=user", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="daily-card")
    html = r.content.decode()
    assert html.lstrip().startswith('<section class="card" id="daily-card">')
    assert 'id="filters"' not in html
    assert '<input type="hidden" name="stack" value="user" form="filters">' in html
    assert "Daily spend by end user" in html


def test_history_restore_gets_the_full_page(logged_in, data):
    r = logged_in.get("/p/acme/?range=7d", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="page",
                      HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in r.content.decode()


def test_breakdown_table_by_model_sorted_by_spend(logged_in, data):
    r = logged_in.get("/p/acme/breakdown/")
    assert r.status_code == 200
    names = [row["model"] for row in r.context["rows"]]
    assert names == ["claude-haiku-4-5", "claude-sonnet-4-5", "gpt-4o-mini", "mystery-model"]
    table = text(r)
    assert "claude-sonnet-4-5 $0.93 25.3% 3" in table
    assert "claude-haiku-4-5 $2.00 54.3% 1" in table
    assert by_testid(r, "breakdown-total") == "$3.68"
    # sonnet: 0.93 / 3 requests
    assert "$0.3100" in table


def test_breakdown_sorts_and_dimensions(logged_in, data):
    r = logged_in.get("/p/acme/breakdown/?by=feature&sort=name&dir=asc")
    assert [row["feature"] for row in r.context["rows"]] == ['=HYPERLINK("http://x")', "chat", "search"]
    r = logged_in.get("/p/acme/breakdown/?by=user&sort=requests")
    assert [row["user"] for row in r.context["rows"]][0] == "u1"
    r = logged_in.get("/p/acme/breakdown/?by=api_key&sort=hit", HTTP_HX_REQUEST="true",
                      HTTP_HX_TARGET="table-card")
    html = r.content.decode()
    assert html.lstrip().startswith('<section class="card" id="table-card">')
    # prod: 100K read of 2.301M prompt = 4.3 %; dev: 0 %
    assert re.findall(r'title="Filter everything by this api key">(\w+)<', html) == ["prod", "dev"]
    assert "4.3%" in html


def test_breakdown_row_filters_everything_and_links_records(logged_in, data):
    r = logged_in.get("/p/acme/breakdown/?by=feature")
    search = [row for row in r.context["rows"] if row["feature"] == "search"][0]
    # filtered by the row, the table moves on to the next dimension
    assert search["filter_query"] == "?feature=search&by=user"
    assert search["records_query"] == "?feature=search"
    assert 'href="/p/acme/records/?feature=search"' in r.content.decode()
    r = logged_in.get("/p/acme/breakdown/" + search["filter_query"])
    assert [row["user"] for row in r.context["rows"]] == ["u2"]
    assert by_testid(r, "breakdown-total") == "$0.03"


def test_tokens_page(logged_in, data):
    r = logged_in.get("/p/acme/tokens/")
    assert r.status_code == 200
    assert by_testid(r, "hit-rate") == "3.0%"
    assert by_testid(r, "cache-savings") == "$0.27"
    assert by_testid(r, "batch-savings") == "$0.75"
    features = {row["feature"]: row for row in r.context["features"]}
    assert features["search"]["cache_hit_rate"] == 1.0
    assert features["chat"]["cache_hit_rate"] == 0.0
    classes = {t["name"]: sum(t["y"]) for t in r.context["fig_tokens"]["data"]}
    assert classes == {"Input (uncached)": 3_201_000, "Cache read": 100_000, "Output": 2_220_000}


def test_records_drill_down(logged_in, data, project):
    project.timezone = "America/New_York"
    project.save()
    r = logged_in.get("/p/acme/records/?feature=search")
    records = r.context["records"]
    assert [rec.external_id for rec in records] == ["r2"]
    # 2026-11-19 10:00 UTC is 05:00 in New York
    assert "Nov 19, 05:00:00" in text(r)
    assert "times in America/New_York" in text(r)
    r = logged_in.get("/p/acme/records/?day=2026-11-18")
    assert [rec.external_id for rec in r.context["records"]] == ["r6"]
    assert "Day: Nov 18, 2026" in text(r)
    r = logged_in.get("/p/acme/records/?unpriced=1")
    assert [rec.external_id for rec in r.context["records"]] == ["r7"]
    assert "unpriced" in text(r)
    r = logged_in.get("/p/acme/records/?model=claude-sonnet-4-5&range=90d")
    assert [rec.external_id for rec in r.context["records"]] == ["r1", "r2", "r5", "r4"]


def test_records_paginate_without_counting(logged_in, project, django_capture_on_commit_callbacks):
    from tests.usage.dashboard_data import ts
    from usage.ingest import record_usage
    from usage.records import Record

    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            Record(external_id=f"e{i}", timestamp=ts("2026-11-20", hour=i % 24),
                   model="gpt-4o-mini", input_tokens=10) for i in range(60)
        ])
    r = logged_in.get("/p/acme/records/")
    first = r.context["records"]
    assert len(first) == 50
    assert r.context["next_query"].startswith("?page=2&after=")  # a keyset cursor, no OFFSET
    r = logged_in.get("/p/acme/records/" + r.context["next_query"])
    second = r.context["records"]
    assert len(second) == 10
    assert r.context["next_query"] is None
    assert r.context["prev_query"] == "?"
    newest_first = sorted(first + second, key=lambda x: (x.day, x.timestamp, x.pk), reverse=True)
    assert [x.pk for x in first + second] == [x.pk for x in newest_first]
    r = logged_in.get("/p/acme/records/?page=2")  # an old link without a cursor: OFFSET
    assert [x.pk for x in r.context["records"]] == [x.pk for x in second]


def test_records_keyset_pages_walk_forward_and_back(logged_in, project, settings,
                                                    django_capture_on_commit_callbacks):
    """Three pages by `after` cursors, then back by `before` ones: the same rows, same order,
    also across records sharing a timestamp (the id breaks the tie)."""
    settings.PAGE_CACHE_SECONDS = 0  # each page rendered, so its context is there to read
    from tests.usage.dashboard_data import ts
    from usage.ingest import record_usage
    from usage.records import Record

    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            Record(external_id=f"k{i}", timestamp=ts(f"2026-11-{18 + i % 3}", hour=(i // 3) % 5),
                   model="gpt-4o-mini", input_tokens=10) for i in range(130)
        ])
    pages, url = [], "/p/acme/records/"
    while url:
        r = logged_in.get(url)
        pages.append((url, [x.pk for x in r.context["records"]], r.context["prev_query"]))
        url = "/p/acme/records/" + r.context["next_query"] if r.context["next_query"] else None
    assert [len(ids) for _, ids, _ in pages] == [50, 50, 30]
    every = [pk for _, ids, _ in pages for pk in ids]
    assert len(set(every)) == 130
    for (_, _, prev), (_, before_ids, _) in zip(pages[1:], pages, strict=False):
        assert [x.pk for x in logged_in.get("/p/acme/records/" + prev).context["records"]] == before_ids


def test_empty_project_explains_how_to_send_data(logged_in, project):
    r = logged_in.get("/p/acme/")
    page = text(r)
    assert by_testid(r, "onboarding")  # present
    assert "api/v1/events" in page
    assert "msg.usage.model_dump()" in page and "resp.usage.model_dump()" in page
    for path in ["breakdown/", "tokens/", "records/"]:
        assert "onboarding" in logged_in.get(f"/p/acme/{path}").content.decode()


@pytest.mark.parametrize("path", ["", "breakdown/", "tokens/", "records/", "export/breakdown.csv",
                                  "export/records.csv"])
def test_other_users_project_is_404(client, django_user_model, data, path):
    bob = django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-123")
    client.force_login(bob)
    assert client.get(f"/p/acme/{path}").status_code == 404


def test_pages_need_login(client, data):
    r = client.get("/p/acme/breakdown/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_unknown_export_table_is_404(logged_in, data):
    assert logged_in.get("/p/acme/export/nope.csv").status_code == 404


def test_none_value_filters_records_without_that_dimension(logged_in, project,
                                                          django_capture_on_commit_callbacks):
    from tests.usage.dashboard_data import ts
    from usage.ingest import record_usage
    from usage.records import Record

    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            Record(external_id="a", timestamp=ts("2026-11-20"), model="gpt-4o-mini",
                   input_tokens=1_000_000),  # $0.15, no feature
            Record(external_id="b", timestamp=ts("2026-11-20"), model="gpt-4o-mini",
                   feature="chat", input_tokens=2_000_000),  # $0.30
        ])
    r = logged_in.get("/p/acme/breakdown/?by=feature")
    none_row = [row for row in r.context["rows"] if row["feature"] == ""][0]
    assert none_row["filter_query"] == "?feature=%28none%29&by=user"
    assert ">(none)<" in r.content.decode()
    r = logged_in.get("/p/acme/?feature=%28none%29")
    assert by_testid(r, "period-total") == "$0.15"
    assert "Feature: (none)" in text(r)
    r = logged_in.get("/p/acme/records/?feature=%28none%29")
    assert [rec.external_id for rec in r.context["records"]] == ["a"]


def test_breakdown_pages_many_groups_in_the_database(logged_in, project,
                                                     django_capture_on_commit_callbacks):
    from tests.usage.dashboard_data import ts
    from usage.ingest import record_usage
    from usage.records import Record

    # user-00 … user-59, user-k spends (k + 1) × $0.15
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            Record(external_id=f"u{k}", timestamp=ts("2026-11-20"), model="gpt-4o-mini",
                   end_user=f"user-{k:02d}", input_tokens=(k + 1) * 1_000_000) for k in range(60)
        ])
    r = logged_in.get("/p/acme/breakdown/?by=user")
    rows = r.context["rows"]
    assert len(rows) == 50 and r.context["row_count"] == 60
    assert rows[0]["user"] == "user-59" and rows[0]["cost_nano"] == 9_000_000_000
    # $0.15 × (1 + … + 60) = $274.50, shared by all 60 users
    assert by_testid(r, "breakdown-total") == "$274.50"
    assert rows[0]["share"] == pytest.approx(9 / 274.5)
    assert "Show all 60" in text(r)
    assert [t["y"][-1] for t in r.context["fig_ranked"]["data"]] == ["user-59"]
    r = logged_in.get("/p/acme/breakdown/?by=user&sort=name&dir=desc")
    assert [row["user"] for row in r.context["rows"]][:2] == ["user-59", "user-58"]
    r = logged_in.get("/p/acme/breakdown/?by=user&sort=requests&dir=asc&all=1")
    assert len(r.context["rows"]) == 60 and r.context["more_query"] is None
