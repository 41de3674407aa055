"""Dashboard benchmark: server-side render time of the overview and breakdown pages on
PostgreSQL with 1M and 10M usage records over a year, and the bytes on the wire.

Builds (or reuses) the database cw_bench_dash with two projects, `bench-1m` and `bench-10m`,
whose records are generated in SQL (INSERT … SELECT … FROM generate_series, one month at a
time) and rolled up with the production rollup SQL run once over the whole project (then
rollup_day timed on a few days). Then renders each
page with the Django test client (logged in) 50× after a warm-up and prints p50/p95 in ms, and
measures the first page load (HTML + CSS + JS, gzip as whitenoise serves it after
collectstatic) and an HTMX filter swap. Runs with DEBUG=0 (cached templates, manifest static
files), like a deployment.

    .venv/bin/python bench/dashboard.py [--sizes 1000000,10000000] [--runs 50]
        [--rebuild]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = "postgres://postgres@127.0.0.1:5432"
DB = os.environ.get("BENCH_DB", "cw_bench_dash")
os.environ.update(
    DATABASE_URL=f"{PG}/{DB}", DEBUG="0", SECRET_KEY="bench", ALLOWED_HOSTS="testserver,127.0.0.1",
    SECURE_SSL_REDIRECT="0", DJANGO_SETTINGS_MODULE="costwatch.settings", LOG_LEVEL="WARNING",
    # building 10M records runs statements of minutes (index builds, the year's rollup)
    DB_STATEMENT_TIMEOUT_MS="0",
)

# Shape of the generated traffic: features map to a main model (and key), users are skewed.
FEATURES = ["support-chat", "code-review", "search", "summarize", "classify", "extract",
            "agent", "translate", "email-draft", "rag-answer", "moderation", "sql-gen"]
MODELS = [  # model, provider, $/M input, output, cache read, cache write 5m
    ("claude-sonnet-4-5", "anthropic", 3, 15, 0.3, 3.75),
    ("claude-haiku-4-5", "anthropic", 1, 5, 0.1, 1.25),
    ("claude-opus-4-1", "anthropic", 15, 75, 1.5, 18.75),
    ("gpt-4o-mini", "openai", 0.15, 0.6, 0.075, 0.15),
    ("gpt-5", "openai", 1.25, 10, 0.125, 1.25),
    ("gpt-4.1", "openai", 2, 8, 0.5, 2),
    ("gemini-2.5-flash", "google", 0.3, 2.5, 0.075, 0.3),
    ("deepseek-chat", "deepseek", 0.27, 1.1, 0.07, 0.27),
]
KEYS = ["prod-web", "prod-worker", "prod-api", "staging", "batch-jobs", "dev"]
USERS = 2000
DAYS = 365


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")


def insert_sql(columns: dict[str, str]) -> str:
    from usage.models import UsageRecord

    table = UsageRecord._meta.db_table
    names = list(columns)
    models = ", ".join(
        f"({i}, '{m}', '{p}', {a}, {b}, {c}, {d})" for i, (m, p, a, b, c, d) in enumerate(MODELS)
    )
    features = "ARRAY[" + ", ".join(f"'{f}'" for f in FEATURES) + "]"
    keys = "ARRAY[" + ", ".join(f"'{k}'" for k in KEYS) + "]"
    return f"""
        INSERT INTO {table} ({", ".join(names)})
        SELECT {", ".join(columns[n] for n in names)}
        FROM (
            SELECT g.i, g.ts, g.f, g.u, g.batch, g.inp, g.rd, g.w5, g.outp,
                   m.name AS model, m.provider, m.r_in, m.r_out, m.r_read, m.r_w5,
                   (CASE WHEN g.batch THEN 0.5 ELSE 1 END) AS mult
            FROM (
                SELECT i, ts, u, (u * 7 + CASE WHEN fr < 0.6 THEN 0 WHEN fr < 0.9 THEN 1
                                              ELSE 2 END) %% 12 AS f,
                       batch, inp, rd, w5, outp, pick
                FROM (
                SELECT i,
                       %(start)s::timestamptz + i * %(step)s * interval '1 second' AS ts,
                       random() AS fr,
                       floor(power(random(), 3) * {USERS})::int AS u,
                       random() < 0.06 AS batch,
                       200 + floor(random() * 3000)::int AS inp,
                       CASE WHEN random() < 0.55 THEN floor(random() * 8000)::int ELSE 0 END AS rd,
                       CASE WHEN random() < 0.04 THEN 2048 ELSE 0 END AS w5,
                       40 + floor(random() * 900)::int AS outp,
                       random() AS pick
                FROM generate_series(%(first)s, %(last)s) AS i
                ) gen
            ) g
            JOIN (VALUES {models}) AS m(idx, name, provider, r_in, r_out, r_read, r_w5)
              ON m.idx = CASE WHEN g.pick < 0.8 THEN (g.f * 3) %% 8 ELSE (g.f * 3 + 1) %% 8 END
        ) r
        CROSS JOIN (SELECT {features} AS features, {keys} AS keys) c
    """


def load(project, n: int, overrides: dict[str, str] | None = None, *, keep_indexes: bool = False) -> None:
    """n records spread evenly over the last DAYS days, one month-sized chunk at a time
    (`overrides`: SQL expressions for some columns, e.g. bench/storage.py's ids;
    `keep_indexes`: insert with the indexes in place, as ingest grows them)."""
    from django.db import connection

    from usage import partitions
    from usage.models import UsageRecord

    end = date.today()
    start = end - timedelta(days=DAYS - 1)
    step = DAYS * 86400 / n
    expressions = {
        "project_id": str(project.pk),
        "source": "'bench'",
        "external_id": "'b' || r.i",
        "ledger": "'metered'",
        "timestamp": "r.ts",
        "day": "(r.ts AT TIME ZONE 'UTC')::date",
        "provider": "r.provider",
        "model": "r.model",
        "priced_model": "''",  # the price table's name is the model's (stored when it differs)
        "feature": "c.features[r.f + 1]",
        "end_user": "'user-' || lpad(r.u::text, 4, '0')",
        "api_key": "CASE WHEN r.batch THEN 'batch-jobs' ELSE c.keys[(r.f %% 6) + 1] END",
        "batch": "r.batch",
        "requests": "1",
        "input_tokens": "r.inp",
        "output_tokens": "r.outp",
        "cache_read_tokens": "r.rd",
        "cache_write_5m_tokens": "r.w5",
        "cost_nano": "round((r.inp * r.r_in + r.rd * r.r_read + r.w5 * r.r_w5 + r.outp * r.r_out)"
                     " * 1000 * r.mult)::bigint",
        "cost_no_cache_nano": "round(((r.inp + r.rd + r.w5) * r.r_in + r.outp * r.r_out)"
                              " * 1000 * r.mult)::bigint",
        "cost_no_batch_nano": "round((r.inp * r.r_in + r.rd * r.r_read + r.w5 * r.r_w5"
                              " + r.outp * r.r_out) * 1000)::bigint",
        "metadata": "NULL",  # {} (usage.models.EmptyAsNullJSONField)
        **(overrides or {}),
    }
    for field in UsageRecord._meta.concrete_fields:
        if field.primary_key or field.column in expressions or field.null:
            continue
        default = field.get_default()
        expressions[field.column] = (
            "false" if default is False else "true" if default is True
            else "''" if default == "" else str(default) if isinstance(default, int) else "NULL"
        )
    for field in UsageRecord._meta.concrete_fields:
        if hasattr(field, "implied") and field.column in expressions:  # NULL at its implied value (usage.models)
            implied = expressions[field.implied] if isinstance(field.implied, str) else field.implied
            expressions[field.column] = f"NULLIF({expressions[field.column]}, {implied})"
    sql = insert_sql(expressions)
    # PostgreSQL keeps the records in monthly partitions, made ahead by the writers
    partitions.ensure_partitions(start + timedelta(days=i) for i in range(DAYS))
    chunk = max(1, n // 12)
    t0 = time.monotonic()
    table = UsageRecord._meta.db_table
    with connection.cursor() as cursor:
        # Bulk load without the secondary indexes, then rebuild them once (much faster).
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'", [table])
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", [table, table])
        indexes = cursor.fetchall()
        if keep_indexes:
            constraints, indexes = [], []
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        try:
            for first in range(0, n, chunk):
                last = min(n, first + chunk) - 1
                cursor.execute(sql, {"start": f"{start}T00:00:00Z", "first": first, "last": last,
                                     "step": step})
                print(f"  {project.slug}: {last + 1:,} / {n:,} records ({time.monotonic() - t0:.0f} s)",
                      flush=True)
        finally:  # a failed load must not leave the table without its indexes
            t1 = time.monotonic()
            for _, definition in indexes:
                # a partitioned table's index reads "ON ONLY" (the parent alone): build it on every partition
                cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f"ANALYZE {table}")
        print(f"  {project.slug}: rebuilt {len(indexes) + len(constraints)} indexes in "
              f"{time.monotonic() - t1:.0f} s", flush=True)


def roll_up(project) -> None:
    """Every day's rollups at once: the production rollup SQL (usage.rollups) with the
    one-day predicate removed, i.e. one GROUP BY over the project. rollup_day itself is timed
    on a few days afterwards (it is idempotent) to show what the per-day path costs."""
    from django.db import connection

    from costwatch.tenant import generation
    from usage import rollups
    from usage.models import DailyModelUsage, DailyUsage, UsageRecord

    one_day = "WHERE project_id = %s AND day = %s AND ledger = %s"
    coarse = rollups._coarse_sql()
    assert one_day in coarse, "usage.rollups SQL changed shape"
    # the detail rollup's SELECT without its PendingRollup cleanup (the bench writes none)
    detail = (f"INSERT INTO {DailyUsage._meta.db_table} ({rollups._daily_columns()}) "
              + rollups._detail_select(UsageRecord._meta.db_table, "project_id = %s AND ledger = %s"))
    t0 = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute(detail, [project.pk, "metered"])
        cursor.execute(coarse.replace(one_day, "WHERE project_id = %s AND ledger = %s"), [project.pk, "metered"])
        cursor.execute("RESET work_mem")
        # rollup_day writes a day at a time, so a day's rows sit together on disk; one big
        # GROUP BY writes them in hash order. CLUSTER restores the production layout.
        for model in (DailyUsage, DailyModelUsage):
            cursor.execute(f"CLUSTER {model._meta.db_table} USING {model._meta.indexes[0].name}")
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    generation.bump(project.pk)  # rollups written here, not by usage.rollups: pages' data is stale
    print(f"  {project.slug}: rolled up the year in {time.monotonic() - t0:.0f} s "
          f"({DailyUsage.objects.filter(project=project).count():,} DailyUsage rows, "
          f"{DailyModelUsage.objects.filter(project=project).count():,} DailyModelUsage rows)",
          flush=True)


# --- the per-dimension rollup, bulk-built ---------------------------------------------------
# rollup_day fills usage.models.DimensionUsage day by day (single days, then the blocks of
# 4…256 days holding the day); for a year of bench data the bench runs its single-day SQL
# once over the whole project, then usage.rollups.refresh_blocks over every day.

def time_rollup_day(project) -> None:
    """rollup_day on three recent days (it is idempotent), with every rollup table filled."""
    from usage import rollups
    from usage.models import UsageRecord

    days = list(UsageRecord.objects.filter(project=project).values_list("day", flat=True)
                .distinct().order_by("-day")[1:4])
    t0 = time.monotonic()
    for day in days:
        rollups.rollup_day(project_id=project.pk, day=day, ledger="metered")
    each = (time.monotonic() - t0) / len(days)
    print(f"  {project.slug}: usage.rollups.rollup_day takes {each:.2f} s per day "
          f"(≈ {each * DAYS / 60:.0f} min for a whole year day by day)", flush=True)


def fill_dimension_rollup(project) -> None:
    from django.db import connection

    from costwatch.tenant import generation
    from usage import rollups
    from usage.models import DimensionUsage

    table = DimensionUsage._meta.db_table
    one_day = "WHERE project_id = %s AND day = %s AND ledger = %s"
    sql = rollups._dimension_sql()
    assert one_day in sql, "usage.rollups SQL changed shape"
    t0 = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE project_id = %s", [project.pk])
        cursor.execute(sql.replace(one_day, "WHERE project_id = %s AND ledger = %s"),
                       [project.pk, "metered"] * len(DimensionUsage.DIMENSIONS))
    days = set(DimensionUsage.objects.filter(project=project, span=1).values_list("day", flat=True))
    t1 = time.monotonic()
    rollups.refresh_blocks(project_id=project.pk, ledger="metered", days=days)
    t2 = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(f"CLUSTER {table} USING {DimensionUsage._meta.indexes[0].name}")
        cursor.execute(f"ANALYZE {table}")
    generation.bump(project.pk)
    single = DimensionUsage.objects.filter(project=project, span=1).count()
    count = DimensionUsage.objects.filter(project=project).count()
    print(f"  {project.slug}: DimensionUsage {single:,} single-day rows in {t1 - t0:.0f} s, "
          f"{count - single:,} block rows in {t2 - t1:.0f} s", flush=True)


def prepare(n: int, rebuild: bool, cluster: bool = False):
    from django.contrib.auth import get_user_model

    from costwatch.tenant.models import Project
    from usage.models import DailyModelUsage, DailyUsage, DirtyDay, UsageRecord

    slug = f"bench-{n // 1_000_000}m" if n >= 1_000_000 else f"bench-{n // 1000}k"
    project, _ = Project.objects.get_or_create(slug=slug, defaults={"name": f"Bench {slug}"})
    have = UsageRecord.objects.filter(project=project).count()
    if rebuild or have != n:
        print(f"building {slug}: {n:,} records", flush=True)
        UsageRecord.objects.filter(project=project).delete()
        DailyUsage.objects.filter(project=project).delete()
        DailyModelUsage.objects.filter(project=project).delete()
        load(project, n)
        roll_up(project)
    elif not DailyModelUsage.objects.filter(project=project).exists():  # a build stopped before its rollups
        print(f"rolling up {slug}", flush=True)
        roll_up(project)
    elif cluster:
        from django.db import connection

        with connection.cursor() as cursor:
            for model in (DailyUsage, DailyModelUsage):
                cursor.execute(f"CLUSTER {model._meta.db_table} USING {model._meta.indexes[0].name}")
                cursor.execute(f"ANALYZE {model._meta.db_table}")
    DirtyDay.objects.filter(project=project).delete()
    user, _ = get_user_model().objects.get_or_create(username="bench")
    project.members.add(user)
    return project, user


def timed(client, url: str, runs: int, **headers) -> tuple[float, float, int]:
    for _ in range(3):
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(url, **headers)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[max(0, int(round(0.95 * len(samples))) - 1)]
    return statistics.median(samples), p95, len(response.content)


def wire_sizes(client, url: str) -> None:
    """The first load: HTML (gzipped as a proxy would) plus every CSS/JS file it references,
    as whitenoise serves them to a browser that accepts gzip/brotli."""
    html = client.get(url).content
    total = len(gzip.compress(html))
    print(f"  HTML {len(html):,} B raw, {len(gzip.compress(html)):,} B gzip")
    for asset in re.findall(rb'(?:src|href)="(/static/[^"]+\.(?:js|css))"', html):
        response = client.get(asset.decode(), HTTP_ACCEPT_ENCODING="gzip, br")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        encoding = response.get("Content-Encoding", "identity")
        total += len(body)
        print(f"  {asset.decode()}: {len(body):,} B ({encoding})")
    print(f"  first page load total: {total:,} B = {total / 1024 / 1024:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--cluster", action="store_true",
                        help="re-CLUSTER reused rollup tables (data built before that step)")
    args = parser.parse_args()

    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)

    for n in [int(x) for x in args.sizes.split(",")]:
        project, user = prepare(n, args.rebuild, args.cluster)
        client = Client()
        client.force_login(user)
        fill_dimension_rollup(project)
        time_rollup_day(project)
        run_pages(client, project, n, args.runs, "rollups: DailyModelUsage, DimensionUsage, DailyUsage")
        print("first page load over the wire (overview):")
        wire_sizes(client, f"/p/{project.slug}/")


def page_paths(slug: str) -> list[tuple[str, str]]:
    """The pages both dashboard benches time (this one and bench/pages.py)."""
    base = f"/p/{slug}/"
    return [
        ("overview (30 days)", base),
        ("overview (90 days)", base + "?range=90d"),
        ("breakdown by model", base + "breakdown/"),
        ("breakdown by feature", base + "breakdown/?by=feature"),
        ("breakdown by user", base + "breakdown/?by=user"),
        ("tokens & caching", base + "tokens/"),
        ("records (page 1)", base + "records/"),
        ("reconcile", base + "reconcile/"),
    ]


def run_pages(client, project, n: int, runs: int, label: str) -> None:
    base = f"/p/{project.slug}/"
    pages = page_paths(project.slug)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{project.slug} ({n:,} records), {label}: server-side render, {runs} runs each "
          f"(load average {load} on {os.cpu_count()} CPUs)")
    for name, url in pages:
        p50, p95, size = timed(client, url, runs)
        print(f"  {name:<24} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   {size:,} B", flush=True)
    swap_url = base + "?range=7d"
    p50, p95, size = timed(client, swap_url, runs, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="page")
    body = client.get(swap_url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="page").content
    print(f"  {'HTMX filter swap':<24} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
          f"{len(body):,} B raw, {len(gzip.compress(body)):,} B gzip", flush=True)

if __name__ == "__main__":
    main()
