"""The page generation of a project (Project.page_generation): a counter bumped in the
same transaction as every change of what the dashboard pages show from that project's
rows (rollups, budgets, directory names). Cached page data (usage.web.pagecache) is keyed
by it, so a commit makes the old entries unreachable; a rolled-back change bumps nothing.
"""

from __future__ import annotations

from django.db.models import F

from costwatch.tenant.models import Project


def bump(project_id: int) -> None:
    Project.objects.filter(pk=project_id).update(page_generation=F("page_generation") + 1)


def current(project: Project, *, using: str = "default") -> int:
    """The generation as the database that answers the page's reads sees it: on a replica,
    the one committed with the rollups the replica has replayed so far (so data read there
    is never cached under a newer generation than it belongs to)."""
    if using == (project._state.db or "default"):
        return project.page_generation
    return Project.objects.using(using).filter(pk=project.pk).values_list("page_generation", flat=True).first() or 0
