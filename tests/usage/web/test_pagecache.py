"""The dashboard pages' data cache (usage.web.pagecache): a cached page is the page an
uncached render shows, before and after new records are ingested and rolled up, after a
budget or a price edit; one project's entry is never another's."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Budget
from billing.pricing.models import ModelPrice
from costwatch.tenant.models import Project
from tests.usage.dashboard_data import seed, ts
from usage.ingest import record_usage
from usage.records import Record
from usage.reports import queries

pytestmark = pytest.mark.usefixtures("today")

PAGES = ["", "?range=90d", "?stack=feature", "?range=7d&granularity=week", "breakdown/",
         "breakdown/?by=feature", "breakdown/?by=user&sort=name", "tokens/", "records/",
         "records/?day=2026-11-20", "reconcile/"]


def html(response) -> str:
    """The page without what differs on every request anyway (CSP nonce, CSRF token)."""
    assert response.status_code == 200
    page = response.content.decode()
    page = re.sub(r'nonce="[^"]*"', 'nonce=""', page)
    page = re.sub(r'"X-CSRFToken": "[^"]*"', "", page)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def render(client, settings, url: str, *, cached: bool) -> tuple[str, int]:
    settings.PAGE_CACHE_SECONDS = 3600 if cached else 0
    with CaptureQueriesContext(connection) as queries_made:
        page = html(client.get(url))
    return page, len(queries_made)


def ingest_more(project, django_capture_on_commit_callbacks, tag: str) -> None:
    """New records on two days, rolled up as ingest does (its on-commit rollup)."""
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[
            Record(external_id=f"{tag}-1", timestamp=ts("2026-11-20", 15), model="claude-opus-4-1",
                   feature="new-feature", end_user="u9", api_key="prod",
                   input_tokens=300_000, output_tokens=40_000, cache_read_tokens=50_000),
            Record(external_id=f"{tag}-2", timestamp=ts("2026-11-03", 8), model="claude-haiku-4-5",
                   feature="chat", end_user="u1", api_key="dev", input_tokens=70_000),
        ])


def test_cached_pages_equal_uncached_ones_before_and_after_new_ingests(
        logged_in, project, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    before = {}
    for url in PAGES:
        uncached, _ = render(logged_in, settings, f"/p/acme/{url}", cached=False)
        first, misses = render(logged_in, settings, f"/p/acme/{url}", cached=True)
        again, hits = render(logged_in, settings, f"/p/acme/{url}", cached=True)
        assert first == uncached == again, url
        assert hits < misses, url  # the second one came from the cache
        before[url] = again
    generation = Project.objects.get(pk=project.pk).page_generation

    ingest_more(project, django_capture_on_commit_callbacks, "late")
    assert Project.objects.get(pk=project.pk).page_generation > generation
    for url in PAGES:
        cached, _ = render(logged_in, settings, f"/p/acme/{url}", cached=True)
        uncached, _ = render(logged_in, settings, f"/p/acme/{url}", cached=False)
        assert cached == uncached, url
        if url != "reconcile/":  # metered only: the reconcile page compares both ledgers
            assert cached != before[url], url  # the new records show at once
    assert "new-feature" not in before["breakdown/?by=feature"]
    assert "new-feature" in render(logged_in, settings, "/p/acme/breakdown/?by=feature", cached=True)[0]


def test_a_rollup_without_new_data_keeps_the_numbers(logged_in, project, settings,
                                                     django_capture_on_commit_callbacks):
    """A recomputed day bumps the generation; the page is recomputed, with the same figures."""
    from usage.rollups import rollup_day

    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    first, _ = render(logged_in, settings, "/p/acme/tokens/", cached=True)
    rollup_day(project_id=project.pk, day=ts("2026-11-20").date(), ledger="metered")
    again, queries_made = render(logged_in, settings, "/p/acme/tokens/", cached=True)
    _, hits = render(logged_in, settings, "/p/acme/tokens/", cached=True)
    assert again == first
    assert queries_made > hits  # computed anew after the bump, then cached


def test_a_budget_edit_shows_at_once(logged_in, project, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    render(logged_in, settings, "/p/acme/", cached=True)
    budget = Budget.objects.create(project=project, name="Monthly", scope="project", period="month",
                                   amount_usd=Decimal("10.00"), ledger="metered")
    page, _ = render(logged_in, settings, "/p/acme/", cached=True)
    assert "$10.00" in page and "No monthly project budget set" not in page
    budget.amount_usd = Decimal("20.00")
    budget.save()
    cached, _ = render(logged_in, settings, "/p/acme/", cached=True)
    uncached, _ = render(logged_in, settings, "/p/acme/", cached=False)
    assert cached == uncached
    assert "$20.00" in cached and "$10.00" not in cached
    budget.delete()
    cached, _ = render(logged_in, settings, "/p/acme/", cached=True)
    assert cached == render(logged_in, settings, "/p/acme/", cached=False)[0]
    assert "No monthly project budget set" in cached


def test_a_price_edit_is_another_entry(logged_in, project, settings, django_capture_on_commit_callbacks):
    """The tokens page estimates classes with the price book: another book, another entry."""
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    first, _ = render(logged_in, settings, "/p/acme/tokens/", cached=True)
    version = queries.prices_version()
    price = ModelPrice.objects.filter(model="claude-sonnet-4-5").order_by("-effective_from").first()
    price.output = price.output * 2
    price.save()
    assert queries.prices_version() != version
    cached, _ = render(logged_in, settings, "/p/acme/tokens/", cached=True)
    uncached, _ = render(logged_in, settings, "/p/acme/tokens/", cached=False)
    assert cached == uncached
    assert cached != first  # the output class is now estimated at the doubled rate


def test_one_projects_entry_is_never_anothers(client, django_user_model, settings,
                                             django_capture_on_commit_callbacks):
    settings.PAGE_CACHE_SECONDS = 3600
    alice = django_user_model.objects.create_user("alice", password="pw-alice-123")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12345")
    acme = Project.objects.create(slug="acme", name="Acme")
    acme.members.add(alice)
    other = Project.objects.create(slug="other", name="Other")
    other.members.add(bob)
    with django_capture_on_commit_callbacks(execute=True):
        seed(acme)
    client.force_login(alice)
    acme_page = html(client.get("/p/acme/breakdown/"))
    assert "claude-haiku-4-5" in acme_page
    client.force_login(bob)
    assert client.get("/p/acme/breakdown/").status_code == 404  # access checked before the cache
    other_page = html(client.get("/p/other/breakdown/"))
    assert "claude-haiku-4-5" not in other_page
    assert len({k for k in cache._cache if ":page:" in k}) >= 2  # noqa: SLF001 - one entry each


def test_a_recreated_project_under_a_reused_id_is_another_project(logged_in, user, project, settings,
                                                                  django_capture_on_commit_callbacks):
    settings.PAGE_CACHE_SECONDS = 3600
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    assert "claude-haiku-4-5" in html(logged_in.get("/p/acme/breakdown/"))
    pk = project.pk
    project.delete()
    again = Project.objects.create(pk=pk, slug="acme", name="Acme")
    again.members.add(user)
    assert "claude-haiku-4-5" not in html(logged_in.get("/p/acme/breakdown/"))


# --- the rendered HTML cache: what differs per request --------------------------------------

def test_a_cached_page_carries_each_sessions_own_csrf_token_and_user_name(
        django_user_model, project, settings, django_capture_on_commit_callbacks):
    from django.test import Client

    settings.PAGE_CACHE_SECONDS = 3600
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    carol = django_user_model.objects.create_user("carol", password="pw-carol-123")
    dave = django_user_model.objects.create_user("dave", password="pw-dave-1234")
    project.members.add(carol, dave)
    pages = {}
    for user in (carol, dave):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(user)
        with CaptureQueriesContext(connection) as queries_made:
            page = browser.get("/p/acme/breakdown/").content.decode()
        pages[user.username] = (browser, page, len(queries_made))
    carol_browser, carol_page, misses = pages["carol"]
    dave_browser, dave_page, hits = pages["dave"]
    assert hits < misses  # dave's page came from the entry carol's request made
    assert "<span>carol</span>" in carol_page and "<span>dave</span>" in dave_page
    assert "carol" not in dave_page and "<cw-" not in dave_page
    assert html(carol_browser.get("/p/acme/breakdown/")) == html(dave_browser.get("/p/acme/breakdown/")).replace(
        "<span>dave</span>", "<span>carol</span>")
    # each page's token is its own session's: a POST with it passes the CSRF check, the other's not
    header = re.search(r'"X-CSRFToken": "([^"]+)"', dave_page).group(1)
    field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', dave_page).group(1)
    carol_token = re.search(r'"X-CSRFToken": "([^"]+)"', carol_page).group(1)
    assert dave_browser.post("/logout/", HTTP_X_CSRFTOKEN=carol_token).status_code == 403
    assert dave_browser.post("/logout/", {"csrfmiddlewaretoken": field}).status_code == 302
    dave_browser.force_login(dave)
    page = dave_browser.get("/p/acme/breakdown/").content.decode()
    assert dave_browser.post("/logout/", HTTP_X_CSRFTOKEN=re.search(
        r'"X-CSRFToken": "([^"]+)"', page).group(1)).status_code == 302
    assert header and field


def test_the_csp_nonce_differs_per_cached_response_and_matches_its_script_tags(user, project, settings):
    """The dashboard templates load scripts from 'self' (no nonce today); a template that
    writes the nonce gets each response's own, the one its CSP header names."""
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    from usage.web import pagecache

    settings.PAGE_CACHE_SECONDS = 3600
    builds = []

    def render(extra: dict) -> str:
        builds.append(extra)
        return f'<script nonce="{extra.get("CSP_NONCE", "")}" src="/static/js/x.js"></script>'

    middleware = CSPMiddleware(lambda request: HttpResponse())
    seen = []
    for _ in range(2):
        request = RequestFactory().get("/p/acme/tokens/")
        request.user = user
        request.session = {}
        middleware.process_request(request)
        page = pagecache.page_html(request, project, "tokens", date(2026, 11, 30), "t.html", render)
        response = HttpResponse(page)
        middleware.process_response(request, response)
        header = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
        assert re.findall(r'nonce="([^"]*)"', page) == [header]
        seen.append(header)
    assert len(builds) == 1  # the second came from the cache
    assert seen[0] != seen[1]


def test_a_page_with_flash_messages_is_rendered_for_that_request(logged_in, project, settings):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpResponse
    from django.test import RequestFactory

    settings.PAGE_CACHE_SECONDS = 3600
    before = html(logged_in.get("/p/acme/"))
    request = RequestFactory().get("/")
    storage = CookieStorage(request)
    storage.add(constants.SUCCESS, "Budget saved.")
    response = HttpResponse()  # the cookie a redirect after a form would carry
    storage.update(response)
    logged_in.cookies.update(response.cookies)
    page = html(logged_in.get("/p/acme/"))
    assert "Budget saved." in page
    assert "Budget saved." not in html(logged_in.get("/p/acme/"))  # shown once, never cached
    assert html(logged_in.get("/p/acme/")) == before


def test_one_build_per_cold_key_the_others_wait_for_it(settings):
    import threading

    from usage.web import pagecache

    settings.PAGE_CACHE_SECONDS = 3600
    cache.add("page:k:lock", 1, 30)  # another process is building "page:k"
    threading.Timer(0.2, lambda: cache.set("page:k", "built there", 60)).start()

    def build_here():
        raise AssertionError("built twice")

    assert pagecache._single_flight("page:k", build_here, 60) == "built there"
    assert pagecache._single_flight("page:new", lambda: "built here", 60) == "built here"
    assert cache.get("page:new:lock") is None  # released after the build


def record_queries(client, url: str) -> tuple[str, int]:
    """The page, and how many of its queries read the raw records."""
    with CaptureQueriesContext(connection) as queries_made:
        page = html(client.get(url))
    return page, sum("usage_usagerecord" in q["sql"] for q in queries_made.captured_queries)


def test_the_records_page_is_cached_only_while_no_record_of_its_range_waits_for_a_rollup(
        logged_in, project, settings, django_capture_on_commit_callbacks):
    settings.PAGE_CACHE_SECONDS = 3600
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    first, reads = record_queries(logged_in, "/p/acme/records/")
    again, reads_again = record_queries(logged_in, "/p/acme/records/")
    assert reads > 0 and reads_again == 0  # settled: the second one came from the cache
    assert again == first

    # a new record, its rollup not run yet (the on-commit task held back): the page reads
    # live and shows it at once, also a second time
    with django_capture_on_commit_callbacks(execute=False) as rollups:
        record_usage(project=project, source="api", records=[
            Record(external_id="fresh-1", timestamp=ts("2026-11-20", 16), model="claude-opus-4-1",
                   feature="brand-new-feature", input_tokens=1000)])
    for _ in range(2):
        page, reads = record_queries(logged_in, "/p/acme/records/")
        assert "brand-new-feature" in page and reads > 0
    # a range without the waiting day stays cached
    assert record_queries(logged_in, "/p/acme/records/?day=2026-11-03")[1] > 0
    assert record_queries(logged_in, "/p/acme/records/?day=2026-11-03")[1] == 0

    for callback in rollups:  # the rollup commits: the mark goes, the generation moves on
        callback()
    page, reads = record_queries(logged_in, "/p/acme/records/")
    assert "brand-new-feature" in page and reads > 0
    cached, reads = record_queries(logged_in, "/p/acme/records/")
    assert cached == page and reads == 0
    settings.PAGE_CACHE_SECONDS = 0
    assert html(logged_in.get("/p/acme/records/")) == page  # what a live read shows


def test_a_cached_records_page_is_never_another_ledgers_or_users(
        logged_in, project, settings, django_user_model, django_capture_on_commit_callbacks):
    from django.test import Client

    settings.PAGE_CACHE_SECONDS = 3600
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    metered = html(logged_in.get("/p/acme/records/?ledger=metered"))
    assert html(logged_in.get("/p/acme/records/?ledger=billed")) != metered
    outsider = django_user_model.objects.create_user("outsider", password="pw-outsider-123")
    other = Client()
    other.force_login(outsider)
    assert other.get("/p/acme/records/").status_code == 404  # scoping before the cache
