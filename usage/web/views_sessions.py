"""Claude Code sessions and 5-hour usage blocks (usage.reports.sessions)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from costwatch.tenant.access import project_for_user
from usage.models import UsageRecord
from usage.reports.sessions import SOURCE, blocks, sessions, turns
from usage.web.filters import RANGES, Filters

SHOWN = 100  # sessions or blocks per page


def _page(request, f: Filters, items: list, param: str) -> dict:
    """One page of `items` (newest first) for the `param` page number, with the links to
    the newer and older pages; the other table's page number stays in the links."""
    page = Paginator(items, SHOWN).get_page(request.GET.get(param))
    keep = {other: request.GET.get(other) or None for other in ("spage", "bpage") if other != param}

    def link(number: int) -> str:
        return f.query(**keep, **{param: number if number > 1 else None})

    return {
        "items": page.object_list,
        "count": len(items),
        "first": page.start_index(),
        "last": page.end_index(),
        "newer": link(page.previous_page_number()) if page.has_previous() else None,
        "older": link(page.next_page_number()) if page.has_next() else None,
        "anchor": param,
    }


def sessions_page(request, slug: str):
    project = project_for_user(request, slug)
    f = Filters.from_request(request, project)
    projects = sorted(set(UsageRecord.objects.filter(project=project, source=SOURCE)
                          .values_list("feature", flat=True).distinct()))
    chosen = request.GET.get("feature", "")
    chosen = chosen if chosen in projects else ""
    rows = turns(project, start=f.start, end=f.end, feature=chosen)
    now = timezone.now()
    all_sessions, all_blocks = sessions(rows), blocks(rows, now=now)
    active = all_blocks[0] if all_blocks and all_blocks[0].active else None
    return render(request, "usage/sessions.html", {
        "project": project,
        "f": f,
        "ranges": RANGES,
        "projects": projects,
        "chosen": chosen,
        "has_logs": bool(projects),
        "now": now,
        "active": active,
        "projected_nano": active.projected_nano(now) if active else None,
        "left": active.end - now if active else None,
        "sessions": _page(request, f, all_sessions, "spage"),
        "session_count": len(all_sessions),
        "blocks": _page(request, f, all_blocks, "bpage"),
        "total_nano": sum(s.cost_nano for s in all_sessions),
    })
