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
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.core.cache import caches
from django.db import router

from costwatch.tenant import generation
from costwatch.tenant.models import Project
from usage.models import DailyModelUsage
from usage.reports.queries import prices_version


def page_key(page: str, project: Project, request, today: date, ignore: tuple[str, ...] = ()) -> str:
    using = router.db_for_read(DailyModelUsage) or "default"
    params = sorted((name, tuple(values)) for name, values in request.GET.lists() if name not in ignore)
    parts = (page, project.pk, project.created_at.isoformat() if project.created_at else "",
             generation.current(project, using=using), prices_version(), project.timezone,
             today.isoformat(), params)
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
    cache = caches[settings.PAGE_CACHE_ALIAS]
    key = page_key(page, project, request, today, ignore)
    data = cache.get(key)
    if data is None:
        data = compute()
        cache.set(key, data, seconds)
    return data
