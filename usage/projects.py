"""Projects and their ingest keys. Keys are random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from usage.models import IngestKey, Project

KEY_PREFIX = "cw_"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(project: Project, *, name: str = "default") -> tuple[IngestKey, str]:
    """Create a key; the raw value is returned once and never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = IngestKey.objects.create(project=project, name=name, prefix=raw[:10], key_hash=hash_key(raw))
    return key, raw


def revoke_key(key: IngestKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def authenticate_key(raw: str) -> IngestKey | None:
    if not raw or not raw.startswith(KEY_PREFIX):
        return None
    key = (
        IngestKey.objects.select_related("project")
        .filter(key_hash=hash_key(raw), revoked_at__isnull=True)
        .first()
    )
    if key is not None and (key.last_used_at is None or (timezone.now() - key.last_used_at).total_seconds() > 60):
        IngestKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


def create_project(*, slug: str, name: str = "", timezone_name: str = "UTC") -> tuple[Project, str]:
    project = Project.objects.create(slug=slug, name=name or slug, timezone=timezone_name)
    _, raw = create_key(project)
    return project, raw


def projects_for(user) -> list[Project]:
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return list(Project.objects.all())
    return list(user.projects.all())


def user_can_see(user, project: Project) -> bool:
    return user.is_authenticated and (
        user.is_superuser or project.members.filter(pk=user.pk).exists()
    )
