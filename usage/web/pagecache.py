"""The dashboard pages' data cache: what a page computes from the rollups (figures,
charts, tables, filter choices) is kept in Django's cache (settings.PAGE_CACHE_ALIAS:
per process by default, Redis with CACHE_URL) and reused while nothing it depends on
changed.

The key holds everything the data depends on: the page, the project (id and creation
time: a project re-created under a reused id is another project), its page generation
(costwatch.tenant.generation: bumped in the transaction that commits a day's rollups, a
budget or a directory name), the price book the process prices estimates with, the
project's time zone, today's date (UTC: "this month", the ranges) and the request's query
parameters. The caller checks access first: an entry is only ever read for a project the
user may see, and its key names that project.

On a read replica the generation is read from the replica, so data read there is cached
under the generation of the rollups the replica had (never under a newer one).

page_html keeps a page's rendered HTML the same way, with what differs per request (the
CSRF token, the user's name, the CSP nonce) rendered as markers and put in per response;
a request with flash messages to show is rendered afresh. One process builds a cold entry
while the others wait for it a moment (a lock in the cache: one build per key, not one
per gunicorn worker).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.db import router
from django.db.models import Exists, OuterRef
from django.middleware.csrf import get_token
from django.utils.html import escape
from django.utils.safestring import mark_safe

from costwatch.tenant import generation
from costwatch.tenant.models import Project
from usage.models import DailyModelUsage, DirtyDay, UsageRecord
from usage.reports.queries import prices_version


def page_key(page: str, project: Project, request, today: date, ignore: tuple[str, ...] = (),
             variant: tuple = ()) -> str:
    using = router.db_for_read(DailyModelUsage) or "default"
    params = sorted((name, tuple(values)) for name, values in request.GET.lists() if name not in ignore)
    parts = (page, project.pk, project.created_at.isoformat() if project.created_at else "",
             generation.current(project, using=using), prices_version(), project.timezone,
             today.isoformat(), params, variant)
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f"page:{project.pk}:{page}:{digest}"


def page_data(request, project: Project, page: str, today: date,
              compute: Callable[[], dict], *, ignore: tuple[str, ...] = ()) -> dict:
    """compute()'s result for this page, project and request, from the cache when an entry
    with the same key exists (PAGE_CACHE_SECONDS = 0: always computed). `ignore`: query
    parameters the data does not depend on (the Records page's paging)."""
    seconds = settings.PAGE_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    return _single_flight(page_key(page, project, request, today, ignore), compute, seconds)


# Markers for the per-request parts of a cached page. Each has a "<", which the templates'
# autoescaping and json_script never let through from data: a marker in the rendered page
# is one the template put there.
CSRF, USERNAME, NONCE = (mark_safe(f"<cw-{name}-5f1c>") for name in ("csrf", "user", "nonce"))


class _Someone:
    """The user as a cached page's template sees it: signed in, named by a marker."""

    is_authenticated = True

    @staticmethod
    def get_username() -> str:
        return USERNAME


MARKERS = {"csrf_token": CSRF, "user": _Someone(), "CSP_NONCE": NONCE}


def page_html(request, project: Project, page: str, today: date, template: str,
              render: Callable[[dict], str], *, variant: tuple = ()) -> str:
    """The page `template` renders for this request: render(MARKERS) (the HTML with the
    markers in) from the cache when an entry with the same key exists, the markers then
    replaced by this request's CSRF token, user name and CSP nonce. render(context) renders
    the template with `context` over the page's own. The caller checks access first."""
    seconds = settings.PAGE_CACHE_SECONDS
    if seconds <= 0 or len(get_messages(request)):
        return render({})
    # what the template reads from the request besides the query (in the key already)
    variant = ("html", template, request.path, request.build_absolute_uri("/"), project.slug, project.name,
               *variant)
    cached = _single_flight(page_key(page, project, request, today, variant=variant),
                            lambda: render(MARKERS), seconds)
    out = cached.replace(CSRF, get_token(request)).replace(USERNAME, escape(request.user.get_username()))
    if NONCE in out:
        out = out.replace(NONCE, escape(getattr(request, "csp_nonce", "")))
    return out


def settled_generation(project: Project, *, ledger: str, start: date, end: date) -> int | None:
    """The project's page generation if no raw record of `ledger` in [start, end] is waiting
    for its rollup (no DirtyDay mark there), else None: the raw records of that range are
    then those of the generation, and a page read from them (the Records page) may be
    cached under it. Both are read in one statement, so in one snapshot: a record committed
    before it either still has its mark, or was rolled up in a transaction that cleared
    the mark and bumped the generation to at most the one returned, so every entry
    built under that generation was read after the record's commit. Every write of the
    records' shown values marks its days (the rollups need it too)."""
    using = router.db_for_read(UsageRecord) or "default"
    waiting = DirtyDay.objects.using(using).filter(project_id=OuterRef("pk"), ledger=ledger,
                                                    day__gte=start, day__lte=end)
    row = (Project.objects.using(using).filter(pk=project.pk).annotate(waiting=Exists(waiting))
           .values_list("page_generation", "waiting").first())
    if row is None or row[1]:
        return None
    return row[0]


BUILD_SECONDS = 30  # how long a lock holds a cold key for its builder
WAIT_SECONDS = 5  # how long another process waits for that build before building itself


def _single_flight(key: str, compute: Callable[[], object], seconds: int):
    """The cached value under key, or compute()'s, stored there. Of the processes that
    miss the same key at once, one computes (it holds key + ":lock" in the cache); the
    others poll for its result for up to WAIT_SECONDS, then compute it themselves (a
    builder that died, a slow one). With the per-process cache the lock is per process."""
    cache = caches[settings.PAGE_CACHE_ALIAS]
    value = cache.get(key)
    if value is not None:
        return value
    lock = f"{key}:lock"
    held = cache.add(lock, 1, BUILD_SECONDS)
    if not held:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.02)
            value = cache.get(key)
            if value is not None:
                return value
    try:
        value = compute()
        cache.set(key, value, seconds)
    finally:
        if held:
            cache.delete(lock)
    return value
