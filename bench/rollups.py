"""Rollup benchmark: the recompute of one big day on PostgreSQL, against a bare scan.

Loads N records (default 1,000,000) into a single day of a scratch database with
bench/dashboard.py's SQL generator, then times usage.rollups.rollup_day on that day (3 runs)
and, as the physical limit in the same run, one SELECT summing the day's costs (the scan
every recompute needs). Asserts that the rollups' total equals the records' exactly.

    .venv/bin/python bench/rollups.py [--records 1000000] [--keep]

The database (BENCH_DB, default cw_bench_rollups) is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("BENCH_DB", "cw_bench_rollups")
import dashboard  # noqa: E402  (bench/dashboard.py: settings for BENCH_DB, the SQL generator)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    dashboard.ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum

    from costwatch.tenant.models import Project
    from usage import rollups
    from usage.models import DailyModelUsage, DailyUsage, UsageRecord

    call_command("migrate", verbosity=0)
    project, _ = Project.objects.get_or_create(slug="bigday", defaults={"name": "bigday"})
    if UsageRecord.objects.filter(project=project).count() != args.records:
        UsageRecord.objects.filter(project=project).delete()
        dashboard.DAYS = 1  # every record on one day (today)
        dashboard.load(project, args.records)
    day = UsageRecord.objects.filter(project=project).values_list("day", flat=True).first()
    records = UsageRecord.objects.filter(project=project, day=day, ledger="metered")
    n = records.count()

    runs = []
    for _ in range(3):
        t = time.perf_counter()
        rollups.rollup_day(project_id=project.pk, day=day, ledger="metered")
        runs.append(time.perf_counter() - t)
    with connection.cursor() as cursor:
        t = time.perf_counter()
        cursor.execute(f"SELECT count(*), sum(cost_nano) FROM {UsageRecord._meta.db_table} "
                       "WHERE project_id = %s AND day = %s AND ledger = 'metered'", [project.pk, day])
        scan = time.perf_counter() - t
    expected = records.aggregate(s=Sum("cost_nano"))["s"]
    for model in (DailyUsage, DailyModelUsage):
        got = model.objects.filter(project=project, day=day).aggregate(s=Sum("cost_nano"))["s"]
        assert got == expected, (model.__name__, got, expected)
    groups = DailyUsage.objects.filter(project=project, day=day).count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"command: .venv/bin/python bench/rollups.py --records {args.records}")
    print(f"PostgreSQL {connection.pg_version // 10000}, load average {load} on {os.cpu_count()} CPUs")
    print(f"one day of {n:,} records -> {groups:,} DailyUsage rows; totals exact")
    print(f"rollup_day: median {statistics.median(runs):.2f} s (runs: {', '.join(f'{r:.2f}' for r in runs)})")
    print(f"bare scan of the day (SELECT count, sum): {scan:.2f} s; "
          f"ratio scan / rollup = {scan / statistics.median(runs):.2f}")
    if not args.keep:
        connection.close()
        import psycopg

        with psycopg.connect(f"{dashboard.PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {dashboard.DB}")


if __name__ == "__main__":
    sys.exit(main())
