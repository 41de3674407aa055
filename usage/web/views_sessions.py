"""Claude Code sessions and 5-hour usage blocks (usage.reports.sessions)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from costwatch.tenant.access import project_for_user
from usage.models import UsageRecord
from usage.reports.sessions import SOURCE, blocks, sessions, turns
from usage.web.filters import RANGES, Filters

SHOWN = 100


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
        "sessions": all_sessions[:SHOWN],
        "session_count": len(all_sessions),
        "blocks": all_blocks[:SHOWN],
        "block_count": len(all_blocks),
        "total_nano": sum(s.cost_nano for s in all_sessions),
    })
