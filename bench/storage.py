"""Storage benchmark: bytes per usage record on PostgreSQL, heap and each index.

Loads N realistic records (default 1,000,000: a year of mixed models, 12 features, 2,000
end users, 6 keys, API-style message ids, the SDK's small metadata) into a scratch
database with bench/dashboard.py's SQL generator, VACUUM ANALYZEs, and prints
pg_total_relation_size / rows, split into heap, TOAST and every index, plus the tuple data
alone (avg pg_column_size of a row: the floor for this row layout) and what a year at
1M requests a day would take.

    .venv/bin/python bench/storage.py [--records 1000000] [--grown] [--keep]

BENCH_DB names the database (default cw_bench_storage); dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("BENCH_DB", "cw_bench_storage")
import dashboard  # noqa: E402  (bench/dashboard.py: settings for BENCH_DB, the SQL generator)

# Realistic identifiers: a provider message id per record (msg_ + 24 chars), the SDK's
# request metadata on a few records.
OVERRIDES = {
    "external_id": "'msg_01' || substr(md5(r.i::text), 1, 22)",
    "source": "'api'",
    "metadata": "CASE WHEN r.i %% 10 = 0 THEN '{\"trace\": \"checkout\"}'::jsonb ELSE NULL END",  # {} is stored as NULL
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--grown", action="store_true",
                        help="insert with the indexes in place (as ingest grows them) instead of building them after")
    args = parser.parse_args()
    dashboard.ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum

    from costwatch.tenant.models import Project
    from usage.models import UsageRecord

    call_command("migrate", verbosity=0)
    project, _ = Project.objects.get_or_create(slug="storage", defaults={"name": "storage"})
    if UsageRecord.objects.count() != args.records:
        UsageRecord.objects.all().delete()
        dashboard.load(project, args.records, OVERRIDES, keep_indexes=args.grown)
    table = UsageRecord._meta.db_table
    with connection.cursor() as cursor:
        # the table is partitioned by month on PostgreSQL: sizes are the sums over its
        # partitions (pg_partition_tree lists the table itself, then each partition)
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT count(*), avg(pg_column_size(t.*)) FROM " + table + " t")
        rows, tuple_bytes = cursor.fetchone()
        cursor.execute("SELECT count(*) FILTER (WHERE isleaf), sum(pg_total_relation_size(relid)), "
                       "sum(pg_relation_size(relid)), sum(pg_indexes_size(relid)) FROM pg_partition_tree(%s)",
                       [table])
        partitions, total, heap, indexes = (int(x) for x in cursor.fetchone())
        cursor.execute("SELECT i.indexrelid::regclass::text, (SELECT sum(pg_relation_size(relid)) "
                       "FROM pg_partition_tree(i.indexrelid)) FROM pg_index i "
                       "WHERE i.indrelid = %s::regclass ORDER BY 2 DESC", [table])
        per_index = [(name, int(size)) for name, size in cursor.fetchall()]
    assert rows == args.records
    cost = UsageRecord.objects.aggregate(s=Sum("cost_nano"))["s"]
    assert cost is not None and cost > 0
    toast = total - heap - indexes
    print(f"command: .venv/bin/python bench/storage.py --records {args.records}{' --grown' if args.grown else ''}")
    print(f"PostgreSQL {connection.pg_version // 10000}: {rows:,} usage records in {partitions} partitions; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"total {total / rows:,.0f} B/record = heap {heap / rows:,.0f} + TOAST/FSM/VM {toast / rows:,.0f} "
          f"+ indexes {indexes / rows:,.0f}")
    for name, size in per_index:
        print(f"  {name:<40} {size / rows:6.0f} B/record")
    print(f"tuple data alone (avg pg_column_size of a row): {float(tuple_bytes):,.0f} B; "
          f"total / tuple = {total / rows / float(tuple_bytes):.2f}")
    print(f"a year at 1M requests/day: {total / rows * 365e6 / 1e9:,.0f} GB")
    if not args.keep:
        connection.close()
        import psycopg

        with psycopg.connect(f"{dashboard.PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {dashboard.DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
