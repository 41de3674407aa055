"""Ingest keys: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from costwatch.tenant.models import IngestKey, Project

KEY_PREFIX = "cw_"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(project: Project, *, name: str = "default") -> tuple[IngestKey, str]:
    """Create a key; the raw value is returned once and never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = IngestKey.objects.create(project=project, name=name, prefix=raw[:10], key_hash=hash_key(raw))
    return key, raw


def revoke_key(key: IngestKey) -> None:
    """Revoke a key (idempotent: the first revocation time is kept)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def authenticate_key(raw: str) -> IngestKey | None:
    """The live key a raw value belongs to, or None; notes its use at most once a minute."""
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
