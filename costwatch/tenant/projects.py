"""Creating a project: the project and its first ingest key."""

from __future__ import annotations

from costwatch.tenant.keys import create_key
from costwatch.tenant.models import Project, validate_timezone


def create_project(*, slug: str, name: str = "", timezone_name: str = "UTC") -> tuple[Project, str]:
    """A new project and the raw value of its first key (shown once)."""
    validate_timezone(timezone_name)
    project = Project.objects.create(slug=slug, name=name or slug, timezone=timezone_name)
    _, raw = create_key(project)
    return project, raw
