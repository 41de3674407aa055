"""Rate limits shared by every process (counters in the database, fixed windows):
failed logins per user name and per client address, ingest requests per key."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from costwatch.tenant.models import Throttle


def count(key: str, *, window: int, add: int = 1) -> tuple[int, float]:
    """Add to the key's counter; returns (count in the current window, seconds left in it).
    One upsert (PostgreSQL and SQLite alike): every ingest request counts, and a locked
    read-then-write took four round trips."""
    now = timezone.now()
    table = connection.ops.quote_name(Throttle._meta.db_table)
    key_col, start_col, count_col = (connection.ops.quote_name(Throttle._meta.get_field(f).column)
                                     for f in ("key", "window_start", "count"))
    expired = f"{table}.{start_col} <= %s"  # the window ended: start a new one
    at, ended = (connection.ops.adapt_datetimefield_value(t) for t in (now, now - timedelta(seconds=window)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_col}, {start_col}, {count_col}) VALUES (%s, %s, %s) "
            f"ON CONFLICT ({key_col}) DO UPDATE SET "
            f"{count_col} = CASE WHEN {expired} THEN EXCLUDED.{count_col} ELSE {table}.{count_col} + EXCLUDED.{count_col} END, "
            f"{start_col} = CASE WHEN {expired} THEN EXCLUDED.{start_col} ELSE {table}.{start_col} END "
            f"RETURNING {count_col}, {start_col}",
            [key, at, add, ended, ended],
        )
        n, start = cursor.fetchone()
    if isinstance(start, str):  # SQLite returns the text
        start = parse_datetime(start)
    if timezone.is_naive(start):
        start = timezone.make_aware(start, UTC)
    left = window - (now - start).total_seconds()
    return n, max(0.0, left)


def peek(key: str, *, window: int) -> tuple[int, float]:
    """(count in the current window, seconds left in it), without counting."""
    row = Throttle.objects.filter(key=key).first()
    now = timezone.now()
    if row is None or row.window_start <= now - timedelta(seconds=window):
        return 0, 0.0
    return row.count, window - (now - row.window_start).total_seconds()


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


# --- login ---------------------------------------------------------------------------------

def _login_keys(request, username: str) -> list[tuple[str, int]]:
    """(key, limit): the user name (hashed: the table never holds what someone typed) and
    the client address."""
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    return [(f"login-user:{name}", settings.LOGIN_FAILURES_PER_USER),
            (f"login-address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS)]


class ThrottledAuthenticationForm(AuthenticationForm):
    """Past LOGIN_FAILURES_PER_USER failures for a user name, or LOGIN_FAILURES_PER_ADDRESS
    from an address, within LOGIN_THROTTLE_SECONDS, every login is refused — the right
    password too — until the window ends."""

    throttled = False

    def clean(self):
        keys = _login_keys(self.request, self.data.get("username") or "")
        window = settings.LOGIN_THROTTLE_SECONDS
        waits = [left for key, limit in keys for n, left in [peek(key, window=window)] if n >= limit]
        if waits:
            self.throttled = True
            minutes = max(1, math.ceil(max(waits) / 60))
            raise ValidationError(f"Too many failed logins. Try again in {minutes} minute(s).", code="throttled")
        try:
            return super().clean()
        except ValidationError:
            for key, _ in keys:
                count(key, window=window)
            raise


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
            response["Retry-After"] = retry_after(settings.LOGIN_THROTTLE_SECONDS)
        return response


# --- ingest --------------------------------------------------------------------------------

def ingest_wait(key_id: int) -> float | None:
    """Count an ingest request of a key; the seconds to wait when it is over
    INGEST_RATE_PER_MINUTE (0: no limit), else None."""
    limit = settings.INGEST_RATE_PER_MINUTE
    if not limit:
        return None
    n, left = count(f"ingest:{key_id}", window=60)
    return left if n > limit else None
