"""The one "today": the current UTC day (ledger days are UTC days, docs/design.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.utils import timezone


def utc_today(now: datetime | None = None) -> date:
    """The UTC day of `now` (default: the current time)."""
    return (now or timezone.now()).astimezone(UTC).date()
