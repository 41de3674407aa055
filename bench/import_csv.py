"""Benchmark: import an N-row Anthropic Console usage CSV (default 1,000,000 rows) through
the same path as `manage.py import_usage`, and report seconds, rows/s and the process's peak
RSS (memory must stay flat with file size: run with --rows 100000 and compare). As the limit
of the parser in the same run, `csv.reader` reads the same file; the import's rows/s is
printed as a ratio to it. Totals are asserted exact (records = rollups).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cw_bench_import .venv/bin/python bench/import_csv.py
    DATABASE_URL=sqlite:////tmp/bench-import.sqlite3 .venv/bin/python bench/import_csv.py   # embedded default

The PostgreSQL database is created (and migrated) if missing. Rollups run after the import
commits, as on the embedded default (Celery eager); their time is reported separately.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cw_bench_import"
HEADER = ("usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
          "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
          "usage_output_tokens,web_search_count,inference_geo,speed\n")
MODELS = ["claude-sonnet-4-6", "claude-haiku-4-5-20251001", "claude-opus-4-6", "claude-sonnet-4-5", "claude-opus-4-5"]
KEYS = [f"key-{i:02d}" for i in range(20)]
WORKSPACES = ["Default", '"Research, EU"', "Prod", "Batch jobs"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def generate(path: Path, rows: int) -> None:
    """Hourly rows (a single-day export's layout): hour × model × key × workspace, unique
    keys, from June 2026 (every model priced)."""
    combos = [(m, k, w) for m in MODELS for k in KEYS for w in WORKSPACES]
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        written, hour = 0, 0
        while written < rows:
            stamp = (start + timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M")
            lines = []
            for i, (model, key, workspace) in enumerate(combos):
                if written >= rows:
                    break
                n = written + i
                lines.append(f"{stamp},{model},{key},{workspace},standard,≤ 200k,{1000 + n % 5000},{n % 300},"
                             f"{n % 200},{n % 9000},{100 + n % 700},0,global,\n")
                written += 1
            out.write("".join(lines))
            hour += 1


def backend_cpu_seconds(connection) -> float | None:
    """CPU seconds the PostgreSQL backend of this connection has used (a local server), or
    None: on a loaded machine CPU time says what the import costs when wall time can't."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def csv_reader_rate(path: Path) -> float:
    """Rows/s of a bare csv.reader over the file: what parsing alone costs."""
    t = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        rows = sum(1 for _ in csv.reader(fh)) - 1
    return rows / (time.perf_counter() - t)


def ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--again", action="store_true", help="then import the same file again and time it")
    args = parser.parse_args()
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "costwatch.settings")
    os.environ.pop("CELERY_BROKER_URL", None)
    ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum

    call_command("migrate", verbosity=0)
    from billing.pricing.catalog import ensure_catalog
    from billing.pricing.money import nano_to_usd
    from costwatch.tenant.models import Project
    from usage import bulk, rollups
    from usage.imports import run_import
    from usage.models import DailyModelUsage, UsageRecord

    ensure_catalog()
    rollup_seconds, rollup_cpu, rollup_backend = [0.0], [0.0], [0.0]
    original = rollups.rollup_marked

    def timed_rollup(**kwargs):
        t, cpu, backend = time.perf_counter(), time.process_time(), backend_cpu_seconds(connection)
        result = original(**kwargs)
        rollup_seconds[0] += time.perf_counter() - t
        rollup_cpu[0] += time.process_time() - cpu
        if backend is not None:
            rollup_backend[0] += backend_cpu_seconds(connection) - backend
        return result

    rollups.rollup_marked = timed_rollup
    # the fast path's overlap (usage.bulk): how long the builder waited for the COPY in flight
    # (about 0: this process is the bound; much more: the backend is), and the COPY thread's CPU
    copy_wait, copy_cpu = [0.0], [0.0]
    wait, copy = bulk.Writer.wait, bulk.Writer._copy

    def timed_wait(self):
        t = time.perf_counter()
        result = wait(self)
        copy_wait[0] += time.perf_counter() - t
        return result

    def timed_copy(self, tuples):
        t = time.thread_time()
        result = copy(self, tuples)
        copy_cpu[0] += time.thread_time() - t
        return result

    bulk.Writer.wait, bulk.Writer._copy = timed_wait, timed_copy

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "claude_api_tokens_bench.csv"
        t = time.perf_counter()
        generate(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows, {size_mb:.1f} MB in {time.perf_counter() - t:.1f} s")
        parse_rate = csv_reader_rate(path)
        slug = f"bench-{int(time.time())}"
        project = Project.objects.create(slug=slug, name=slug)
        baseline = peak_mb()
        backend = backend_cpu_seconds(connection)
        cpu = time.process_time()
        t = time.perf_counter()
        summary = run_import(project=project, paths=[path])
        seconds = time.perf_counter() - t
        cpu = time.process_time() - cpu
        if backend is not None:
            backend = backend_cpu_seconds(connection) - backend
        if args.again:
            # the same export again: every row a duplicate, restated by the billed rule
            # (usage.billed) as confirmed by this import, nothing replaced
            t = time.perf_counter()
            again = run_import(project=project, paths=[path])
            print(f"re-import of the same file: {time.perf_counter() - t:.1f} s, "
                  f"{again.duplicates:,} duplicates, {again.records_replaced:,} replaced, {again.records_added:,} added")
    stored = UsageRecord.objects.filter(project=project).count()
    assert stored == summary.records_added == args.rows, (stored, summary.records_added)
    raw = UsageRecord.objects.filter(project=project).aggregate(s=Sum("cost_nano"))["s"]
    rolled = DailyModelUsage.objects.filter(project=project).aggregate(s=Sum("cost_nano"))["s"]
    assert raw == rolled == summary.cost_nano > 0, (raw, rolled, summary.cost_nano)
    import_only = seconds - rollup_seconds[0]
    database = f"PostgreSQL {connection.pg_version // 10000}" if connection.vendor == "postgresql" else \
        f"SQLite {connection.Database.sqlite_version}"
    print(f"command: DATABASE_URL={url} .venv/bin/python bench/import_csv.py --rows {args.rows}")
    print(f"database: {database}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    print(f"rows: {args.rows:,}  records added: {summary.records_added:,}  cost: ${nano_to_usd(summary.cost_nano)} "
          "(records = rollups, exact)")
    print(f"import: {import_only:.1f} s ({args.rows / import_only:,.0f} rows/s), "
          f"then rollups of {summary.first_day}..{summary.last_day}: {rollup_seconds[0]:.1f} s; total {seconds:.1f} s")
    print(f"csv.reader over the same file: {parse_rate:,.0f} rows/s; import / csv.reader = "
          f"{args.rows / import_only / parse_rate:.3f}")
    print(f"CPU of the import: {cpu - rollup_cpu[0]:.1f} s in this process ({(cpu - rollup_cpu[0]) / args.rows * 1e6:.1f} "
          "µs a row)" + (f", {backend - rollup_backend[0]:.1f} s in the PostgreSQL backend "
                         f"({(backend - rollup_backend[0]) / args.rows * 1e6:.1f} µs a row)" if backend else "")
          + f"; of the rollups: {rollup_cpu[0]:.1f} s" + (f" + {rollup_backend[0]:.1f} s" if backend else ""))
    print(f"of the import's CPU in this process, the COPY thread's: {copy_cpu[0]:.1f} s; the build waited "
          f"{copy_wait[0]:.1f} s for the COPY in flight")
    print(f"peak RSS: {peak_mb():.0f} MB (before the import: {baseline:.0f} MB)")
    Project.objects.filter(pk=project.pk).delete()


if __name__ == "__main__":
    main()
