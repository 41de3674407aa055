"""Ingest benchmark: events/s through POST /api/v1/events on PostgreSQL, against a raw COPY
of the same rows in the same run, and the rollup lag under that load.

Starts gunicorn (DEBUG=0) on 127.0.0.1 against a scratch PostgreSQL database and Celery
workers on a scratch Redis queue, sends N batches of 1,000 realistic events (mixed
Anthropic/OpenAI usage objects) from C client threads and prints throughput and p95 per
batch. While it runs, a sampler reads the rollup lag (the oldest dirty mark, see
usage.rollups.oldest_mark_age) and the queue depth every 0.5 s; after it, the time until
every dirty day is rolled up and how many recomputes the workers did. Then the stored rows
are copied back in with COPY (batches of 1,000, C threads, into a table with the same
indexes): the physical limit of this machine. Totals are asserted exact (records, rollups).
The CPU time the web workers, the database's server processes and the Celery workers used
during the load, per event (from /proc), says what the machine sustains when it is not
shared: on a loaded machine the events/s follow the load, the CPU per event much less.

    .venv/bin/python bench/ingest.py [--batches 120] [--clients 4] [--workers clients+1]
        [--celery 1] [--eager] [--days 22] [--port 8104]

--eager: no broker, rollups in-request (the embedded default). BENCH_DB names the database
(default cw_bench_ingest); it is dropped at the end unless --keep.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
DB = os.environ.get("BENCH_DB", "cw_bench_ingest")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
QUEUE = "costwatch-bench-ingest"
APPS = ("bench-web", "bench-celery")  # PGAPPNAME of the gunicorn and the Celery processes


def event(rng, i, batch_no, days):
    if rng.random() < 0.5:
        usage = {"input_tokens": rng.randrange(100, 5000), "output_tokens": rng.randrange(10, 2000),
                 "cache_read_input_tokens": rng.choice([0, 4096, 8192]),
                 "cache_creation": {"ephemeral_5m_input_tokens": rng.choice([0, 0, 1024]),
                                    "ephemeral_1h_input_tokens": 0}}
        model = rng.choice(["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"])
    else:
        prompt = rng.randrange(200, 8000)
        usage = {"prompt_tokens": prompt, "completion_tokens": rng.randrange(10, 900),
                 "prompt_tokens_details": {"cached_tokens": min(prompt, rng.choice([0, 1024, 2048]))}}
        model = rng.choice(["gpt-4o-mini", "gpt-5", "gpt-4.1"])
    return {"id": f"b{batch_no}-{i}", "model": model, "feature": rng.choice(["chat", "search", "review"]),
            "user": f"u{rng.randrange(500)}", "api_key": "prod", "usage": usage,
            "timestamp": f"2026-11-{rng.randrange(1, days + 1):02d}T{rng.randrange(24):02d}:"
                         f"{rng.randrange(60):02d}:00Z"}


def p95(samples):
    samples = sorted(samples)
    return samples[max(0, int(round(0.95 * len(samples))) - 1)]


def wait_http(url):
    for _ in range(150):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


class Sampler(threading.Thread):
    """Rollup lag (oldest dirty mark) and queue depth, every 0.5 s; and the CPU time of the
    server processes of the web and Celery connections (a connection closed between two
    samples keeps its last one)."""

    def __init__(self, url, queue_len):
        super().__init__(daemon=True)
        self.url, self.queue_len = url, queue_len
        self.lags, self.depths, self.marks = [], [], []
        self.server = {app: {} for app in APPS}  # application -> pid -> CPU seconds
        self.stop = threading.Event()

    def sample_server(self):
        for app, seen in self.server.items():
            for pid in backends(self.url, app):
                seen[pid] = cpu_seconds([pid])

    def run(self):
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.5):
                count, lag = conn.execute(
                    "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - "
                    "min(COALESCE(dirty_since, marked_at))), 0) FROM usage_dirtyday").fetchone()
                self.marks.append(count)
                self.lags.append(float(lag))
                self.depths.append(self.queue_len())
                self.sample_server()


def cpu_seconds(pids):
    """CPU time (user + system) the processes have used so far, from /proc (Linux)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def children(pid):
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def backends(url, application):
    """The PostgreSQL server processes of this database's connections from one application
    (PGAPPNAME of the web and Celery processes)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [application])]


def run_clients(work, parts):
    """work(part) in a thread per part, started together; seconds until the last is done."""
    threads = [threading.Thread(target=work, args=(part,)) for part in parts]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def warm_up(port, key, workers):
    """Every gunicorn worker past its first request (the URLconf and the API's modules load
    then) before the clock starts: concurrent reads of the prices API, nothing stored."""

    def send(_):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/prices?model=gpt-4o-mini",
                                     headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.status == 200, resp.status

    for _ in range(3):
        run_clients(send, range(2 * workers))


def raw_copy(url, clients):
    """The stored rows again, COPYed in 1,000-row transactions from C threads into a table
    with the same columns and indexes: what PostgreSQL itself sustains here."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (LIKE usage_usagerecord INCLUDING ALL)")
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'usage_usagerecord' "
            "AND column_name <> 'id' ORDER BY ordinal_position")]
        cols = ", ".join(f'"{c}"' for c in columns)
        lines = []
        with conn.cursor().copy(f"COPY (SELECT {cols} FROM usage_usagerecord ORDER BY id) TO STDOUT") as copy:
            for block in copy:
                lines.append(bytes(block))
    data = b"".join(lines).splitlines(keepends=True)
    batches = [b"".join(data[i:i + 1000]) for i in range(0, len(data), 1000)]

    server_cpu = []

    def send(part):
        with psycopg.connect(url) as conn:
            before = cpu_seconds([conn.info.backend_pid])
            for body in part:
                with conn.cursor().copy(f"COPY bench_copy ({cols}) FROM STDIN") as copy:
                    copy.write(body)
                conn.commit()
            server_cpu.append(cpu_seconds([conn.info.backend_pid]) - before)

    elapsed = run_clients(send, [batches[i::clients] for i in range(clients)])
    with psycopg.connect(url, autocommit=True) as conn:
        copied = conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
        conn.execute("DROP TABLE bench_copy")
    assert copied == len(data), (copied, len(data))
    return len(data) / elapsed, sum(server_cpu) / len(data)


def check_totals(url, events):
    with psycopg.connect(url, autocommit=True) as conn:
        n, raw = conn.execute("SELECT count(*), sum(cost_nano) FROM usage_usagerecord").fetchone()
        daily = conn.execute("SELECT sum(cost_nano) FROM usage_dailyusage").fetchone()[0]
        coarse = conn.execute("SELECT sum(cost_nano) FROM usage_dailymodelusage").fetchone()[0]
        requests = conn.execute("SELECT sum(requests) FROM usage_dailymodelusage").fetchone()[0]
    assert n == events == requests, (n, events, requests)
    assert raw == daily == coarse, (raw, daily, coarse)
    return raw


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=120)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: clients + 1, so no batch waits for a worker)")
    parser.add_argument("--celery", type=int, default=1, help="Celery worker processes (solo pool each)")
    parser.add_argument("--eager", action="store_true", help="no broker: rollups in-request")
    parser.add_argument("--days", type=int, default=22, help="days the events spread over")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8104)))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.workers = args.workers or args.clients + 1
    url = f"{PG}/{DB}"

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0", "SECRET_KEY": "bench",
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING"}
    env.pop("CELERY_BROKER_URL", None)
    if not args.eager:
        env.update(CELERY_BROKER_URL=REDIS, CELERY_TASK_DEFAULT_QUEUE=QUEUE)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run([py, "manage.py", "create_project", "bench"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    key = out.strip().splitlines()[-1]

    rng = random.Random(1)
    bodies = [json.dumps({"events": [event(rng, i, b, args.days) for i in range(1000)]}).encode()
              for b in range(args.batches)]
    import redis

    broker = redis.Redis.from_url(REDIS)
    broker.delete(QUEUE)
    procs = [subprocess.Popen([str(Path(py).parent / "gunicorn"), "costwatch.wsgi", "-b", f"127.0.0.1:{args.port}",
                               "-w", str(args.workers), "--log-level", "warning", "--timeout", "120"],
                              cwd=ROOT, env={**env, "PGAPPNAME": "bench-web"})]
    logs = []
    for n in range(0 if args.eager else args.celery):
        log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
        logs.append(log)
        procs.append(subprocess.Popen(
            [py, "-m", "celery", "-A", "costwatch", "worker", "-Q", QUEUE, "--pool=solo", "-l", "info",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench{n}@%h"],
            cwd=ROOT, env={**env, "CELERY_TRACE_LOG_LEVEL": "INFO", "PGAPPNAME": "bench-celery"}, stdout=log, stderr=subprocess.STDOUT))
    sampler = Sampler(url, lambda: broker.llen(QUEUE))
    try:
        wait_http(f"http://127.0.0.1:{args.port}/healthz")
        warm_up(args.port, key, args.workers)
        latencies, errors, lock = [], [], threading.Lock()

        def send(chunk):
            for body in chunk:
                req = urllib.request.Request(f"http://127.0.0.1:{args.port}/api/v1/events", data=body, method="POST",
                                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        result = json.loads(resp.read())
                        assert result["accepted"] == 1000, result
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(repr(exc))
                with lock:
                    latencies.append(time.perf_counter() - t0)

        web, celery = children(procs[0].pid), [p.pid for p in procs[1:]]
        sampler.sample_server()
        server = {app: dict(seen) for app, seen in sampler.server.items()}
        web_cpu, celery_cpu = cpu_seconds(web), cpu_seconds(celery)
        sampler.start()
        elapsed = run_clients(send, [bodies[i::args.clients] for i in range(args.clients)])
        during, end = len(sampler.lags), time.perf_counter()
        # CPU used during the load: the web workers, this database's server processes (a
        # connection opened meanwhile counts from 0), the Celery workers
        web_cpu, celery_cpu = cpu_seconds(web) - web_cpu, cpu_seconds(celery) - celery_cpu
        sampler.sample_server()
        server_cpu = [sum(cpu - server[app].get(pid, 0) for pid, cpu in sampler.server[app].items())
                      for app in APPS]
        drained = None
        while time.perf_counter() - end < 180:
            if sampler.marks and sampler.marks[-1] == 0 and sampler.depths[-1] == 0:
                drained = time.perf_counter() - end
                break
            time.sleep(0.5)
        sampler.stop.set()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        broker.delete(QUEUE)
    events = args.batches * 1000
    if errors:
        print("first error:", errors[0])
        sys.exit(1)
    total_nano = check_totals(url, events)
    recomputes = tasks = 0
    for log in logs:
        log.seek(0)
        for n in re.findall(r"usage\.tasks\.rollup_day\[[^]]+\] succeeded in [\d.]+s: (\d+)", log.read()):
            tasks += 1
            recomputes += int(n)
        os.unlink(log.name)
    copy_rate, copy_cpu = raw_copy(url, args.clients)
    rate = events / elapsed

    mode = "eager: rollups in-request (embedded default)" if args.eager else \
        f"rollups on {args.celery} Celery worker(s) over Redis"
    command = " ".join(["bench/ingest.py", *sys.argv[1:]])
    print(f"command: .venv/bin/python {command}")
    print(f"mode: {mode}; gunicorn workers: {args.workers}, client threads: {args.clients}, "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"events: {events:,} in {args.batches} batches of 1,000 over {args.days} days; elapsed {elapsed:.2f} s")
    print(f"throughput: {rate:,.0f} events/s; batch latency p50 "
          f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms, p95 {p95(latencies) * 1000:.0f} ms")
    print(f"raw COPY of the same {events:,} rows (1,000-row transactions, {args.clients} threads): "
          f"{copy_rate:,.0f} rows/s; ingest / COPY = {rate / copy_rate:.3f}")
    ingest_cpu = web_cpu + server_cpu[0]
    print(f"CPU per event during the load: web workers {web_cpu / events * 1e6:.1f} µs + their PostgreSQL "
          f"{server_cpu[0] / events * 1e6:.1f} µs (the raw COPY: {copy_cpu * 1e6:.1f} µs a row); rollups: Celery "
          f"{celery_cpu / events * 1e6:.1f} µs + its PostgreSQL {server_cpu[1] / events * 1e6:.1f} µs")
    print(f"so {os.cpu_count()} idle CPUs would ingest at most {os.cpu_count() / ingest_cpu * events:,.0f} events/s "
          f"(raw COPY {os.cpu_count() / copy_cpu:,.0f} rows/s; ratio {copy_cpu * events / ingest_cpu:.3f}), "
          f"{os.cpu_count() / (ingest_cpu + celery_cpu + server_cpu[1]) * events:,.0f} with the rollups")
    if not args.eager:
        lags = sampler.lags[:during] or [0.0]
        print(f"rollup lag (oldest dirty mark) during the load: max {max(lags):.1f} s, "
              f"p50 {sorted(lags)[len(lags) // 2]:.1f} s; max queue depth {max(sampler.depths[:during] or [0])}")
        print(f"after the load: all days rolled up in {drained:.1f} s" if drained is not None
              else "after the load: NOT drained within 180 s")
        print(f"rollup tasks run: {tasks}, recomputes: {recomputes} (for {args.batches} ingest batches "
              f"touching {args.days} days)")
    print(f"totals exact: {events:,} records = rollup requests, cost {total_nano:,} nano-USD in records, "
          "DailyUsage and DailyModelUsage")
    if not args.keep:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
