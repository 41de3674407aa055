"""UsageRecord -> DailyUsage -> DailyModelUsage and DimensionUsage, a whole (project, day,
ledger) at a time, then the DimensionUsage blocks (4, 16, 64, 256 days) that hold the day.

Delete and re-insert in one transaction with INSERT … SELECT … GROUP BY: idempotent, so a
retried or duplicated task can never double-count. The project row is locked (FOR NO KEY
UPDATE) so that two workers recomputing the same project serialize instead of interleaving.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Min, Q, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.pricing.classes import METRICS, SUMS
from costwatch.tenant import generation
from costwatch.tenant.models import Project
from usage.models import (
    DailyModelUsage,
    DailyUsage,
    DimensionUsage,
    DirtyDay,
    PendingRollup,
    UsageRecord,
)
from usage.retention import raw_horizon

logger = logging.getLogger(__name__)
RETRY_MAX = timedelta(hours=1)


_GROUP = ["provider", "COALESCE(NULLIF(priced_model, ''), model)", "feature", "end_user", "api_key", "workspace",
          "batch"]
_KEY = ["provider", "model", "feature", "end_user", "api_key", "workspace", "batch"]  # DailyUsage's names


def _detail_select(source: str, where: str) -> str:
    """The DailyUsage rows of the records of `source` (a FROM item) that `where` picks."""
    # a record's counts may be NULL for their implied value (usage.models.ImpliedIntegerField): read_sql()
    read = {c: getattr(UsageRecord._meta.get_field(c), "read_sql", lambda c=c: c)() for c in SUMS}
    sums = ", ".join(f"COALESCE(SUM({read[c]}), 0)" for c in SUMS)
    return f"""
        SELECT project_id, day, ledger, {", ".join(_GROUP)}, {sums},
            COALESCE(SUM(CASE WHEN cost_nano IS NULL THEN {read["requests"]} ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), 0)
        FROM {source}
        WHERE {where}
        GROUP BY project_id, day, ledger, {", ".join(_GROUP)}
    """


def _daily_columns() -> str:
    return f"project_id, day, ledger, {', '.join(_KEY)}, {', '.join(METRICS)}"


def _detail_sql() -> str:
    """A (project, day, ledger)'s DailyUsage rows from all its records. On PostgreSQL the
    same statement (one snapshot) deletes the day's PendingRollup ranges: the records it
    reads are those of the ranges committed before it, a range committed after stays for
    the next pass (which adds its records, not read here). Parameters: project, day,
    ledger (twice on PostgreSQL)."""
    daily, raw = DailyUsage._meta.db_table, UsageRecord._meta.db_table
    taken = f"WITH taken AS ({_take_sql()}) " if connection.vendor == "postgresql" else ""
    return (f"{taken}INSERT INTO {daily} ({_daily_columns()}) "
            + _detail_select(raw, "project_id = %s AND day = %s AND ledger = %s"))


def _merge(name: str, table: str, source: str, keys: list[str], scope: dict[str, str]) -> str:
    """Two CTEs (`name`_u, `name`_i) that add the rows of CTE `source` to `table`: its row
    of the same `keys` within `scope` (column -> SQL value) gets their sums, a key it lacks
    becomes a new row. A rollup table has no unique key: a key is one row because only
    rollups write these tables, one at a time per project (_lock_project), and this inserts
    only the keys it did not update."""
    same = " AND ".join(f"t.{c} = s.{c}" for c in keys)
    where = " AND ".join(f"t.{c} = {v}" for c, v in scope.items())
    added = ", ".join(f"{c} = t.{c} + s.{c}" for c in METRICS)
    columns = [*scope, *keys, *METRICS]
    return f"""
        {name}_u AS (
            UPDATE {table} t SET {added} FROM {source} s WHERE {where} AND {same}
            RETURNING {", ".join(f"t.{c}" for c in keys)}
        ),
        {name}_i AS (
            INSERT INTO {table} ({", ".join(columns)})
            SELECT {", ".join([*scope.values(), *(f"s.{c}" for c in [*keys, *METRICS])])} FROM {source} s
            WHERE NOT EXISTS (SELECT FROM {name}_u t WHERE {same})
        )"""


def _pending_sql() -> str:
    """Add the records of the given id ranges of a (project, day, ledger) to each of its
    rollups (PostgreSQL), in one statement: their sums grouped as _detail_sql groups them
    (`delta`) are added to the day's DailyUsage rows, then grouped by model to its
    DailyModelUsage rows, by each dimension to its DimensionUsage rows and to those of each
    block that holds the day (the sums a full recompute would make: every rollup is a sum
    of records). A pass so costs what its records do, not what the day has
    (bench/ingest.py: 110 ms a pass recomputing the coarser rollups of a 6,000-row day).

    The records are found by their ids alone, behind OFFSET 0 (the other conditions stay
    out of it): the planner's guess of one record per project and day (a partition without
    statistics) otherwise read the whole day through an index on (project, ledger, day)
    for each range; and the tables' rows are joined to the sums hashed (_recompute turns
    nested loops off; nested, 130 s in bench/ingest.py). Named parameters: firsts, lasts
    (bigint[]), project, day, ledger and, for each span, block_<span> (its first day)."""
    daily, raw = DailyUsage._meta.db_table, UsageRecord._meta.db_table
    ranges = (f"unnest(%(firsts)s::bigint[], %(lasts)s::bigint[]) AS pending(first_id, last_id) CROSS JOIN LATERAL "
              f"(SELECT * FROM {raw} WHERE id BETWEEN pending.first_id AND pending.last_id "
              "AND day = %(day)s OFFSET 0) r")
    sums = ", ".join(f"SUM({c}) AS {c}" for c in METRICS)
    dims = " UNION ALL ".join(f"SELECT '{dim}' AS dimension, {dim} AS value, {sums} FROM delta GROUP BY {dim}"
                              for dim in DimensionUsage.DIMENSIONS)
    day = {"project_id": "%(project)s", "day": "%(day)s", "ledger": "%(ledger)s"}
    dimension = DimensionUsage._meta.db_table
    merges = [
        _merge("daily", daily, "delta", _KEY, day),
        _merge("coarse", DailyModelUsage._meta.db_table, "coarse", ["provider", "model"], day),
        _merge("span1", dimension, "dims", ["dimension", "value"],
               {**day, "span": "1"}),
        *(_merge(f"span{span}", dimension, "dims", ["dimension", "value"],
                 {"project_id": "%(project)s", "day": f"%(block_{span})s", "ledger": "%(ledger)s", "span": str(span)})
          for span in DimensionUsage.SPANS),
    ]
    return f"""
        WITH delta ({_daily_columns()}) AS ({_detail_select(ranges, "project_id = %(project)s AND ledger = %(ledger)s")}),
        coarse AS (SELECT provider, model, {sums} FROM delta GROUP BY provider, model),
        dims AS ({dims}),
        {",".join(merges)}
        SELECT count(*) FROM delta
    """


def _take_sql() -> str:
    """Delete a (project, day, ledger)'s committed PendingRollup ranges. Parameters:
    project, day, ledger."""
    return f"DELETE FROM {PendingRollup._meta.db_table} WHERE project_id = %s AND day = %s AND ledger = %s"


def take_pending(project_id: int, day: date, ledger: str) -> list[tuple[int, int]]:
    """Delete the committed PendingRollup ranges of a (project, day, ledger) and answer
    them (first id, last id). Their records are committed (same transaction), so a later
    statement of this transaction reads them all."""
    with connection.cursor() as cursor:
        cursor.execute(f"{_take_sql()} RETURNING first_id, last_id", [project_id, day, ledger])
        return cursor.fetchall()


def _coarse_sql() -> str:
    coarse, daily = DailyModelUsage._meta.db_table, DailyUsage._meta.db_table
    cols = METRICS
    sums = ", ".join(f"SUM({c})" for c in cols)
    return f"""
        INSERT INTO {coarse} (project_id, day, ledger, provider, model, {", ".join(cols)})
        SELECT project_id, day, ledger, provider, model, {sums}
        FROM {daily}
        WHERE project_id = %s AND day = %s AND ledger = %s
        GROUP BY project_id, day, ledger, provider, model
    """


def _dimension_sql() -> str:
    table, daily = DimensionUsage._meta.db_table, DailyUsage._meta.db_table
    sums = ", ".join(f"SUM({c})" for c in METRICS)
    selects = " UNION ALL ".join(
        f"SELECT project_id, day, 1, ledger, '{dim}', {dim}, {sums} FROM {daily} "
        f"WHERE project_id = %s AND day = %s AND ledger = %s GROUP BY project_id, day, ledger, {dim}"
        for dim in DimensionUsage.DIMENSIONS
    )
    return f"""
        INSERT INTO {table} (project_id, day, span, ledger, dimension, value, {", ".join(METRICS)})
        {selects}
    """


def _block_sql() -> str:
    """One block from the blocks of the next smaller span (or days) that make it up."""
    table = DimensionUsage._meta.db_table
    sums = ", ".join(f"SUM({c})" for c in METRICS)
    # naming the dimensions lets the (project, ledger, dimension, span, day) index serve
    dimensions = ", ".join(f"'{d}'" for d in DimensionUsage.DIMENSIONS)
    parts = ", ".join(["%s"] * DimensionUsage.SPAN_FACTOR)
    return f"""
        INSERT INTO {table} (project_id, day, span, ledger, dimension, value, {", ".join(METRICS)})
        SELECT project_id, %s, %s, ledger, dimension, value, {sums}
        FROM {table}
        WHERE project_id = %s AND ledger = %s AND dimension IN ({dimensions}) AND span = %s
            AND day IN ({parts})
        GROUP BY project_id, ledger, dimension, value
    """


def _dimension_rows(project_id: int, ledger: str):
    # naming the dimensions lets the (project, ledger, dimension, span, day) index serve
    return DimensionUsage.objects.filter(project_id=project_id, ledger=ledger,
                                         dimension__in=DimensionUsage.DIMENSIONS)


def block_start(day: date, span: int) -> date:
    """The first day of the aligned block of `span` days holding `day`."""
    return date.fromordinal(day.toordinal() - day.toordinal() % span)


def blocks(start: date, end: date) -> list[tuple[int, date]]:
    """[start, end] as aligned (span, first day) blocks, left to right, the largest block that
    starts at each point and fits: at most 2 × (SPAN_FACTOR − 1) blocks of each span, plus
    the blocks of the largest span in between."""
    out = []
    day = start
    while day <= end:
        span = next((s for s in reversed(DimensionUsage.SPANS)
                     if day.toordinal() % s == 0 and day + timedelta(days=s - 1) <= end), 1)
        out.append((span, day))
        day += timedelta(days=span)
    return out


def refresh_blocks(*, project_id: int, ledger: str, days) -> None:
    """Recompute, bottom-up, every block that holds one of `days` (whose single-day rows are
    current). A block is summed from the SPAN_FACTOR smaller blocks that make it up, so a day
    costs one INSERT … SELECT per span."""
    days = set(days)
    part = 1
    with connection.cursor() as cursor:
        for span in DimensionUsage.SPANS:
            for first in sorted({block_start(day, span) for day in days}):
                _dimension_rows(project_id, ledger).filter(span=span, day=first).delete()
                parts = [first + timedelta(days=i * part) for i in range(span // part)]
                cursor.execute(_block_sql(), [first, span, project_id, ledger, part, *parts])
            part = span


def rollup_day(*, project_id: int, day: date, ledger: str) -> None:
    with transaction.atomic():
        _lock_project(project_id)
        mark = _mark(project_id, day, ledger)
        _recompute(project_id, day, ledger, full=mark is None or mark["full_since"] is not None)
        clear_mark(project_id=project_id, day=day, ledger=ledger, seen=mark and mark["marked_at"])


def _lock_project(project_id: int) -> None:
    # NO KEY UPDATE: serializes rollups of a project without blocking the KEY SHARE
    # locks that ingest's foreign-key checks take on the same row (FOR UPDATE deadlocks).
    Project.objects.select_for_update(no_key=True).filter(pk=project_id).first()


def _mark(project_id: int, day: date, ledger: str) -> dict | None:
    return (DirtyDay.objects.filter(project_id=project_id, day=day, ledger=ledger)
            .values("marked_at", "queued_at", "full_since").first())


def _recompute(project_id: int, day: date, ledger: str, *, full: bool = True) -> None:
    """The day's rollups from its raw records (`full`), or (PostgreSQL, a mark without
    full_since) the records of its PendingRollup ranges added to each of its rollups
    (_pending_sql): a pass under sustained ingest reads only the records since the last
    pass, not the whole day again (bench/ingest.py)."""
    if (horizon := raw_horizon()) is not None and day < horizon:
        # its raw records are dropped (usage.retention): recomputing would wipe its rollups
        logger.info("rollup of project %s, %s %s skipped: before the raw retention horizon %s",
                    project_id, day, ledger, horizon)
        PendingRollup.objects.filter(project_id=project_id, day=day, ledger=ledger).delete()
        return
    params = [project_id, day, ledger]
    if full or connection.vendor != "postgresql":
        with _hashed_aggregates():
            _recompute_rows(project_id, day, ledger, params)
    else:
        pending = take_pending(project_id, day, ledger)
        if not pending:
            return  # a pass before this one took them: nothing changed
        # nested loops off: the day's rollup rows are joined to the sums hashed (_pending_sql);
        # that makes every plan look costly, so JIT off too (it took 1.5 s to compile)
        with _hashed_aggregates(enable_nestloop="off", jit="off"):
            _add_rows(project_id, day, ledger, pending)
    # the one place rollups are written: cached page data of the project is stale from the
    # commit of this transaction on (usage.web.pagecache)
    generation.bump(project_id)


@contextlib.contextmanager
def _hashed_aggregates(**planner: str):
    """PostgreSQL: the rollup's GROUP BYs hashed in memory. The planner guesses many more
    groups than a day has and sorts on disk (9 s for a 1M-record day at the default 4 MB
    work_mem; ~1.5 s hashed, bench/rollups.py); and right after an import, the partition
    without statistics, it guesses 1 row and sorts (50 ms for a 9,600-record day, 15 ms
    hashed: 104 such days were 13 s of a 1M-row import, bench/import_csv.py). `planner`:
    more settings for the block (name -> value), restored after it like enable_sort."""
    if connection.vendor != "postgresql":
        yield
        return
    local = {"enable_sort": "off", **planner}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(['current_setting(%s)'] * len(local))}, set_config('work_mem', %s, true), "
                       f"{', '.join(['set_config(%s, %s, true)'] * len(local))}",
                       [*local, settings.ROLLUP_WORK_MEM, *(v for item in local.items() for v in item)])
        before = dict(zip(local, cursor.fetchone(), strict=False))
    yield
    with connection.cursor() as cursor:  # the rest of the caller's transaction plans as before
        cursor.execute(f"SELECT {', '.join(['set_config(%s, %s, true)'] * len(before))}",
                       [v for item in before.items() for v in item])


def _recompute_rows(project_id: int, day: date, ledger: str, params: list) -> None:
    DailyUsage.objects.filter(project_id=project_id, day=day, ledger=ledger).delete()
    DailyModelUsage.objects.filter(project_id=project_id, day=day, ledger=ledger).delete()
    _dimension_rows(project_id, ledger).filter(day=day, span=1).delete()
    with connection.cursor() as cursor:
        cursor.execute(_detail_sql(), params * (2 if connection.vendor == "postgresql" else 1))
        cursor.execute(_coarse_sql(), params)
        cursor.execute(_dimension_sql(), params * len(DimensionUsage.DIMENSIONS))
    refresh_blocks(project_id=project_id, ledger=ledger, days=[day])


def _add_rows(project_id: int, day: date, ledger: str, pending: list[tuple[int, int]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_pending_sql(), {
            "firsts": [first for first, _ in pending], "lasts": [last for _, last in pending], "project": project_id,
            "day": day, "ledger": ledger, **{f"block_{span}": block_start(day, span) for span in DimensionUsage.SPANS}})


@dataclass
class Pass:
    """What rollup_marked did: `recomputed` the day (or skipped it: no mark, or another
    task owns it), and `again`, the claim of the next pass when a newer mark survived."""

    recomputed: bool
    again: datetime | None = None


def rollup_marked(*, project_id: int, day: date, ledger: str, claim: datetime | None = None,
                  interval: float = 0) -> Pass:
    """The coalescing rollup of a dirty day (usage.tasks.rollup_day). A task carries the
    claim it was queued with; it recomputes only while the mark is still its own (None:
    whatever the claim). If ingest moved the mark meanwhile, the mark is claimed again for a
    pass `interval` seconds later and that claim is returned for the caller to queue."""
    with transaction.atomic():
        _lock_project(project_id)
        started = timezone.now()
        mark = _mark(project_id, day, ledger)
        if mark is None or (claim is not None and mark["queued_at"] != claim):
            return Pass(recomputed=False)
        full_since = mark["full_since"]
        _recompute(project_id, day, ledger, full=full_since is not None)
        if clear_mark(project_id=project_id, day=day, ledger=ledger, seen=mark["marked_at"]):
            return Pass(recomputed=True)
        now = timezone.now()
        # the next pass is a full one only if a write that needs it came after this mark was read
        DirtyDay.objects.filter(project_id=project_id, day=day, ledger=ledger).update(
            queued_at=now, due_at=now + timedelta(seconds=interval), dirty_since=started,
            full_since=Case(When(full_since=full_since, then=None), default=F("full_since"))
            if full_since is not None else F("full_since"))
        return Pass(recomputed=True, again=now)


def release(*, project_id: int, day: date, ledger: str, claim: datetime) -> None:
    """Give up a claim whose task could not be queued: the next ingest or the beat takes it."""
    DirtyDay.objects.filter(project_id=project_id, day=day, ledger=ledger, queued_at=claim).update(
        queued_at=None)


def claim_late(*, late_seconds: float, limit: int = 500) -> list[tuple[int, date, str, datetime]]:
    """Claim the marks no task is due to take: none queued, or queued but still there
    `late_seconds` past due (a lost task). Returns (project_id, day, ledger, claim)."""
    now = timezone.now()
    stale = now - timedelta(seconds=late_seconds)
    late = (_due(DirtyDay.objects.filter(Q(queued_at__isnull=True) | Q(due_at__lt=stale) | Q(due_at__isnull=True)))
            .order_by(Coalesce("dirty_since", "marked_at")).values_list("pk", "project_id", "day", "ledger")[:limit])
    out = []
    for pk, project_id, day, ledger in list(late):
        claim = timezone.now()
        DirtyDay.objects.filter(pk=pk).update(queued_at=claim, due_at=claim)
        out.append((project_id, day, ledger, claim))
    return out


def oldest_mark_age(now: datetime | None = None) -> float:
    """Seconds since the oldest dirty mark's records have been missing from the rollups
    (0: nothing stale): the rollup lag."""
    since = Coalesce("dirty_since", "marked_at")
    oldest = DirtyDay.objects.aggregate(oldest=Min(since))["oldest"]
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds()) if oldest else 0.0


def clear_mark(*, project_id: int, day: date, ledger: str, seen) -> bool:
    """Delete the dirty mark this rollup started from. A newer mark (ingest that committed
    during the rollup) survives for the next pass."""
    if seen is None:
        return False
    deleted, _ = DirtyDay.objects.filter(
        project_id=project_id, day=day, ledger=ledger, marked_at=seen
    ).delete()
    return bool(deleted)


def rollup_dirty(*, limit: int | None = None) -> int:
    """Recompute every dirty day that is due; returns how many were done. A day whose rollup
    fails is recorded on its mark and retried later: it never stops the other days."""
    marks = _due(DirtyDay.objects.all()).order_by("marked_at").values_list("project_id", "day", "ledger")
    if limit:
        marks = marks[:limit]
    return sum(try_rollup(project_id=p, day=d, ledger=ledger) for p, d, ledger in list(marks))


def _due(marks):
    """The marks not waiting for a retry after a failed rollup."""
    return marks.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now()))


def try_rollup(*, project_id: int, day: date, ledger: str) -> bool:
    """rollup_day, or, if it fails, the failure recorded on the day's mark (False)."""
    try:
        rollup_day(project_id=project_id, day=day, ledger=ledger)
    except Exception as exc:
        record_failure(project_id=project_id, day=day, ledger=ledger, exc=exc)
        return False
    return True


def record_failure(*, project_id: int, day: date, ledger: str, exc: Exception) -> None:
    """Keep (or make) the day's mark, unclaimed, with the error; the next try waits 1, 2,
    4, … minutes, at most RETRY_MAX. Staff see it in the admin."""
    logger.error("rollup of project %s, %s %s failed", project_id, day, ledger, exc_info=exc)
    now = timezone.now()
    mark, _ = DirtyDay.objects.get_or_create(project_id=project_id, day=day, ledger=ledger,
                                             defaults={"marked_at": now, "full_since": now})
    attempts = mark.attempts + 1
    delay = min(RETRY_MAX, timedelta(minutes=2 ** min(attempts - 1, 10)))
    DirtyDay.objects.filter(pk=mark.pk).update(attempts=attempts, error=f"{type(exc).__name__}: {exc}"[:2000],
                                               retry_at=now + delay, queued_at=None)


def rollup_all(*, project_id: int | None = None) -> int:
    """Recompute every day that has records (e.g. after a bulk re-price); returns how many
    were done (a failing day is recorded, see try_rollup)."""
    qs = UsageRecord.objects.all()
    if project_id:
        qs = qs.filter(project_id=project_id)
    keys = list(qs.values_list("project_id", "day", "ledger").distinct())
    stale = DailyModelUsage.objects.all()
    if project_id:
        stale = stale.filter(project_id=project_id)
    keys += list(stale.values_list("project_id", "day", "ledger").distinct())
    return sum(try_rollup(project_id=p, day=d, ledger=ledger) for p, d, ledger in set(keys))
