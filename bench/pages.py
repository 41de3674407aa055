"""Pages under load: p50/p95 per page with C concurrent users against gunicorn (DEBUG=0).

Uses the data set of bench/dashboard.py (built there, or here if missing: BENCH_DB, default
cw_bench_dash, project bench-1m / bench-10m), starts gunicorn on 127.0.0.1, logs a user in
(a database session) and runs C client threads, each requesting the dashboard pages in
random order for D seconds. As the floor of the same stack in the same run it first loads
/healthz (no database work) the same way.

    .venv/bin/python bench/pages.py [--records 1000000] [--users 20] [--seconds 30]
        [--workers 3] [--think 0] [--replica] [--port 8105]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import dashboard  # noqa: E402  (bench/dashboard.py: settings for BENCH_DB, the data set)
import replica_cluster  # noqa: E402  (bench/replica_cluster.py)

ROOT = Path(__file__).resolve().parent.parent


def pct(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[max(0, int(round(q * len(samples))) - 1)] * 1000


def get(port: int, cookie: str, url: str) -> bool:
    """One page, as a browser without keep-alive asks for it (gunicorn's sync workers close
    every connection anyway): http.client, the lightest client in the standard library."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", url, headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        return response.status == 200
    finally:
        conn.close()


def hammer(port: int, cookie: str, urls: list[tuple[str, str]], users: int, seconds: float,
           think: float = 0):
    """users threads, each GETting the urls in random order until `seconds` are up,
    pausing `think` seconds (on average) after each page like a person reading it.
    Returns the samples per page, the errors, the elapsed time and the client's CPU
    seconds (what the load itself took from the 2 cores the server runs on)."""
    results: dict[str, list[float]] = {name: [] for name, _ in urls}
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def user(n: int) -> None:
        rng = random.Random(n)
        while time.perf_counter() < stop:
            name, url = rng.choice(urls)
            t0 = time.perf_counter()
            try:
                ok = get(port, cookie, url)
            except Exception as exc:  # noqa: BLE001 - reported below
                ok = False
                errors.append(f"{url}: {exc!r}")
            with lock:
                if ok:
                    results[name].append(time.perf_counter() - t0)
                else:
                    errors.append(f"{url}: not 200")
            if think:
                time.sleep(min(rng.expovariate(1 / think), max(0.0, stop - time.perf_counter())))

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors, time.perf_counter() - t0, time.process_time() - cpu0


def profile(client, urls: list[tuple[str, str]], runs: int) -> None:
    """Per page, in this process with the test client: p50/p95 of the whole request, the
    queries it makes, and where the time goes (SQL, template rendering, the charts' JSON
    inside the template, the rest: Python building the figures and the context)."""
    import statistics

    from django.db import connection
    from django.template import defaultfilters
    from django.template.backends.django import Template

    spent = {"sql": 0.0, "template": 0.0, "json": 0.0, "queries": 0}

    def sql_timer(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent["sql"] += time.perf_counter() - t0
            spent["queries"] += 1

    render, json_script = Template.render, defaultfilters._json_script

    def timed_render(self, *a, **kw):
        t0 = time.perf_counter()
        try:
            return render(self, *a, **kw)
        finally:
            spent["template"] += time.perf_counter() - t0

    def timed_json(*a, **kw):
        t0 = time.perf_counter()
        try:
            return json_script(*a, **kw)
        finally:
            spent["json"] += time.perf_counter() - t0

    Template.render, defaultfilters._json_script = timed_render, timed_json
    try:
        with connection.execute_wrapper(sql_timer):
            print(f"{'page':<22} {'p50':>7} {'p95':>7} {'queries':>7} {'SQL':>7} {'Python':>7} "
                  f"{'template':>8} {'(JSON)':>7}  ms, mean per request")
            for name, url in urls:
                for _ in range(2):
                    assert client.get(url).status_code == 200, url
                samples = []
                for key in spent:
                    spent[key] = 0
                for _ in range(runs):
                    t0 = time.perf_counter()
                    client.get(url)
                    samples.append(time.perf_counter() - t0)
                mean = statistics.mean(samples) * 1000
                sql, tpl, js = (spent[k] * 1000 / runs for k in ("sql", "template", "json"))
                print(f"{name:<22} {pct(samples, 0.5):7.1f} {pct(samples, 0.95):7.1f} "
                      f"{spent['queries'] / runs:7.1f} {sql:7.1f} {mean - sql - tpl:7.1f} {tpl:8.1f} "
                      f"{js:7.1f}", flush=True)
    finally:
        Template.render, defaultfilters._json_script = render, json_script


def timed_get(port: int, cookie: str, url: str) -> float:
    t0 = time.perf_counter()
    assert get(port, cookie, url), url
    return time.perf_counter() - t0


def cold_and_warm(port: int, cookie: str, urls: list[tuple[str, str]], project, workers: int) -> dict:
    """Per page on the otherwise idle server: the first render after a generation bump (what
    a page costs right after a rollup commits: the cache misses) and a warm render (after
    `workers` more requests, so that each worker's per-process cache holds the page).
    The median of 3 bumps each."""
    from costwatch.tenant import generation

    out = {}
    for name, url in urls:
        colds, warms = [], []
        for _ in range(3):
            generation.bump(project.pk)
            colds.append(timed_get(port, cookie, url))
            for _ in range(workers):
                timed_get(port, cookie, url)
            warms.append(timed_get(port, cookie, url))
        out[name] = (sorted(colds)[1], sorted(warms)[1])
    out["healthz"] = (0.0, sorted(timed_get(port, cookie, "/healthz") for _ in range(5))[2])
    return out


def lag_probe(r, stop: threading.Event, samples: list[float]) -> None:
    while not stop.is_set():
        samples.append(r.lag())
        stop.wait(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--think", type=float, default=0, help="mean seconds a user reads a page (0: none)")
    parser.add_argument("--replica", action="store_true",
                        help="pages read through the replica alias (costwatch.routers): a read-only "
                             "connection to the same database stands in for a streaming replica")
    parser.add_argument("--replica-cluster", action="store_true",
                        help="pages read from a real streaming replica: a second local PostgreSQL "
                             "cluster (bench/replica_cluster.py), set up and dropped by this run")
    parser.add_argument("--replica-port", type=int, default=5433)
    parser.add_argument("--no-cache", action="store_true", help="PAGE_CACHE_SECONDS=0: every page computed")
    parser.add_argument("--cache-url", default="", help="CACHE_URL for the server (e.g. redis://127.0.0.1:6379/5); "
                                                        "default: Django's per-process LocMem cache")
    parser.add_argument("--profile", type=int, default=0, metavar="RUNS",
                        help="instead of the load: each page RUNS times in this process, with "
                             "queries and the time in SQL / Python / template / chart JSON")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8105)))
    args = parser.parse_args()
    dashboard.ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client

    from usage.models import DailyModelUsage, DimensionUsage, UsageRecord

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    project, user = dashboard.prepare(args.records, rebuild=False)
    if not DimensionUsage.objects.filter(project=project).exists():
        dashboard.fill_dimension_rollup(project)
    raw = UsageRecord.objects.filter(project=project).aggregate(s=Sum("cost_nano"))["s"]
    rolled = DailyModelUsage.objects.filter(project=project).aggregate(s=Sum("cost_nano"))["s"]
    assert raw == rolled, (raw, rolled)
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    urls = dashboard.page_paths(project.slug)
    if args.profile:
        profile(client, urls, args.profile)
        return
    connection.close()
    with contextlib.ExitStack() as stack:
        replica = stack.enter_context(replica_cluster.replica(args.replica_port)) if args.replica_cluster else None
        run(args, project, cookie, urls, raw, replica)


def run(args, project, cookie: str, urls: list[tuple[str, str]], raw: int, replica) -> None:
    from django.db import connection

    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "DB_STATEMENT_TIMEOUT_MS": "120000",
           "CACHE_URL": args.cache_url}
    if args.no_cache:
        env["PAGE_CACHE_SECONDS"] = "0"
    if args.replica:
        env["DATABASE_REPLICA_URL"] = (f"{dashboard.PG}/{dashboard.DB}?application_name=costwatch-replica"
                                       "&options=-c%20default_transaction_read_only%3Don")
    if replica is not None:
        env["DATABASE_REPLICA_URL"] = replica.url(dashboard.DB) + "?application_name=costwatch-replica"
    if args.cache_url.startswith("redis://"):
        import redis

        redis.Redis.from_url(args.cache_url).flushdb()  # this bench's own Redis DB
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "costwatch.wsgi",
                               "-b", f"127.0.0.1:{args.port}", "-w", str(args.workers),
                               "--log-level", "warning", "--timeout", "120"], cwd=ROOT, env=env)
    lags: list[float] = []
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        hammer(args.port, cookie, urls, 2, 3)  # warm-up: every worker's caches
        floor, _, floor_s, floor_cpu = hammer(args.port, cookie, [("healthz", "/healthz")], args.users, 5)
        stop = threading.Event()
        prober = None
        if replica is not None:
            prober = threading.Thread(target=lag_probe, args=(replica, stop, lags))
            prober.start()
        load0 = os.getloadavg()
        results, errors, elapsed, cpu = hammer(args.port, cookie, urls, args.users, args.seconds, args.think)
        load1 = os.getloadavg()
        stop.set()
        if prober:
            prober.join()
        replay_lag = replica.replay_lag() if replica is not None else ""
        cold = cold_and_warm(args.port, cookie, urls, project, args.workers)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'costwatch-replica'")
            replica_connections = cursor.fetchone()[0]
        if replica is not None:
            import psycopg

            with psycopg.connect(replica.url(dashboard.DB)) as conn:
                replica_connections = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'costwatch-replica'").fetchone()[0]
    finally:
        server.terminate()
        server.wait()
    every = [s for samples in results.values() for s in samples]
    print(f"command: .venv/bin/python bench/pages.py --records {args.records} --users {args.users} "
          f"--seconds {args.seconds:g} --workers {args.workers} --think {args.think:g}"
          f"{' --replica' if args.replica else ''}{' --replica-cluster' if replica else ''}"
          f"{' --no-cache' if args.no_cache else ''}{f' --cache-url {args.cache_url}' if args.cache_url else ''}")
    cache = ("off (PAGE_CACHE_SECONDS=0)" if args.no_cache
             else f"Redis ({args.cache_url})" if args.cache_url else "per-process LocMem")
    print(f"{project.slug} ({args.records:,} records), gunicorn {args.workers} workers, DEBUG=0, page cache "
          f"{cache}; {args.users} users, think time {args.think:g} s, for {elapsed:.0f} s; load average "
          f"{', '.join(f'{x:.1f}' for x in load0)} before, {', '.join(f'{x:.1f}' for x in load1)} after "
          f"the load, on {os.cpu_count()} CPUs")
    if args.replica:
        print(f"read-only replica connections open after the load: {replica_connections} "
              "(a write through one would have failed the page)")
    if replica is not None:
        lags.sort()
        print(f"streaming replica on port {replica.port}: pages read there through "
              f"{replica_connections} connections; lag (main's WAL position now -> replayed on the "
              f"replica), sampled each second under the load: p50 {pct(lags, 0.5):.0f} ms, max "
              f"{max(lags) * 1000:.0f} ms over {len(lags)} samples; pg_stat_replication replay_lag "
              f"after the load: {replay_lag}")
    print(f"floor: /healthz p50 {pct(floor['healthz'], 0.5):.0f} ms, p95 {pct(floor['healthz'], 0.95):.0f} ms, "
          f"{len(floor['healthz']) / floor_s:,.0f} req/s (client CPU {floor_cpu / floor_s:.0%} of a core)")
    print(f"  {'page':<22} {'n':>5}  {'p50':>6}  {'p95':>6}   one request at a time: cold (first after a "
          f"generation bump) / warm; /healthz so: {cold['healthz'][1] * 1000:.0f} ms")
    for name, samples in results.items():
        c, w = cold[name]
        print(f"  {name:<22} {len(samples):5d}  {pct(samples, 0.5):6.0f}  {pct(samples, 0.95):6.0f} ms"
              f"   {c * 1000:6.0f} / {w * 1000:4.0f} ms")
    print(f"all pages: {len(every) / elapsed:.1f} pages/s, p50 {pct(every, 0.5):.0f} ms, p95 "
          f"{pct(every, 0.95):.0f} ms; client CPU {cpu / elapsed:.0%} of a core; errors: {len(errors)}; "
          f"totals exact (records = rollups: {raw:,} nano-USD)")
    if errors:
        print("first error:", errors[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
