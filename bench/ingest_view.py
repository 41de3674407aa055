"""The ingest view alone: CPU per event of POST /api/v1/events in one process (Django's
test client, no HTTP server), for bench/ingest.py's 1,000-event batches on PostgreSQL.

Prints this process's CPU per event, its PostgreSQL server process's, and the garbage
collector's share by generation (gc.callbacks), with the startup objects left in or
frozen out of the collector as costwatch.wsgi does (--freeze). The rollups' marks
(usage.ingest.mark_dirty) are left out: bench/ingest.py measures them.

    .venv/bin/python bench/ingest_view.py [--batches 60] [--freeze] [--profile]

BENCH_DB names the scratch database (default cw_bench_view), dropped and made anew.
"""

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import sys
import time
from io import StringIO
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
PG = "postgres://postgres@127.0.0.1:5432"
DB = os.environ.get("BENCH_DB", "cw_bench_view")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after startup (costwatch.wsgi)")
    parser.add_argument("--profile", action="store_true", help="cProfile (CPU time) of the measured batches")
    args = parser.parse_args()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    os.environ.update(DJANGO_SETTINGS_MODULE="costwatch.settings", DATABASE_URL=f"{PG}/{DB}", DEBUG="0",
                      SECRET_KEY="bench", ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="0", LOG_LEVEL="WARNING")
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from ingest import event

    from usage import ingest

    call_command("migrate", verbosity=0)
    out = StringIO()
    call_command("create_project", "bench", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    ingest.mark_dirty = lambda **kw: None  # the rollups' share: bench/ingest.py
    rng = random.Random(1)
    bodies = [json.dumps({"events": [event(rng, i, b, 22) for i in range(1000)]}).encode()
              for b in range(args.batches + 5)]
    client = Client()

    def send(body):
        response = client.post("/api/v1/events", data=body, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 200 and response.json()["accepted"] == 1000, response.content

    for body in bodies[:5]:  # the URLconf, the price book, the partition
        send(body)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    if args.freeze:
        gc.freeze()
    collected, started = {}, {}

    def on_gc(phase, info):
        if phase == "start":
            started["at"] = time.process_time()
        else:
            gen = info["generation"]
            collected[gen] = collected.get(gen, 0) + time.process_time() - started["at"]

    gc.callbacks.append(on_gc)
    profile = cProfile.Profile(time.process_time) if args.profile else None
    server, cpu = cpu_seconds(backend), time.process_time()
    if profile:
        profile.enable()
    for body in bodies[5:]:
        send(body)
    if profile:
        profile.disable()
    cpu, server = time.process_time() - cpu, cpu_seconds(backend) - server
    gc.callbacks.remove(on_gc)
    events = args.batches * 1000
    print(f"command: .venv/bin/python bench/ingest_view.py {' '.join(sys.argv[1:])}")
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{events:,} events in {args.batches} batches of 1,000")
    print(f"CPU per event: view {cpu / events * 1e6:.1f} µs (garbage collector "
          + ", ".join(f"gen {g} {s / events * 1e6:.2f}" for g, s in sorted(collected.items()))
          + f" µs), its PostgreSQL {server / events * 1e6:.1f} µs")
    if profile:
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(40)
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {DB} WITH (FORCE)")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
