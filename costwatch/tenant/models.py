"""The tenant: a project, its members and its ingest keys. Every other table hangs off a
project. The tables keep the names they had when these models lived in `usage`."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(name: str) -> None:
    """An IANA zone name this machine knows (checked on save, not frozen into a migration)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{name!r} is not a known time zone (e.g. Europe/Berlin)") from exc


class Project(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="projects", blank=True, db_table="usage_project_members"
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    weekly_digest = models.BooleanField(default=False)
    digest_recipients = models.TextField(blank=True, help_text="Comma-separated e-mail addresses")
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped (costwatch.tenant.generation) in the transaction that changes what the pages
    # show: a day's rollups, a budget, a directory name. Cached page data is keyed by it.
    page_generation = models.BigIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        db_table = "usage_project"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IngestKey(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "usage_ingestkey"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class Throttle(models.Model):
    """A counter per key and fixed window (costwatch.tenant.throttle): failed logins per
    user and per address, ingest requests per key. In the database, so every process of
    the site counts together."""

    key = models.CharField(max_length=200, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "usage_throttle"  # the tenant app's tables keep the usage_ prefix

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
