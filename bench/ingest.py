"""Ingest benchmark: events/s through POST /api/v1/events in batches of 1,000 on PostgreSQL.

Starts gunicorn on 127.0.0.1 against a scratch PostgreSQL database, sends N batches of
1,000 realistic events (mixed Anthropic/OpenAI usage objects) from C client threads, and
prints the throughput. Rollups are enqueued to Redis (a scratch queue, purged after) as in a
deployment; pass --eager to measure the embedded default where they run in-request.

    .venv/bin/python bench/ingest.py [--batches 60] [--clients 2] [--workers 2] [--eager]
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
DB = "cw_bench_ingest"
PORT = 8765
QUEUE = "costwatch-bench-ingest"


def event(rng, i, batch_no):
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
            "timestamp": f"2026-11-{rng.randrange(1, 23):02d}T{rng.randrange(24):02d}:00:00Z"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--eager", action="store_true")
    args = parser.parse_args()

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    env = {**os.environ, "DATABASE_URL": f"{PG}/{DB}", "DEBUG": "1"}
    if not args.eager:
        env.update(CELERY_BROKER_URL="redis://127.0.0.1:6379/14", CELERY_TASK_DEFAULT_QUEUE=QUEUE)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run([py, "manage.py", "create_project", "bench"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    key = out.strip().splitlines()[-1]

    rng = random.Random(1)
    bodies = [json.dumps({"events": [event(rng, i, b) for i in range(1000)]}).encode() for b in range(args.batches)]
    server = subprocess.Popen([str(Path(py).parent / "gunicorn"), "costwatch.wsgi", "-b", f"127.0.0.1:{PORT}",
                               "-w", str(args.workers), "--log-level", "warning", "--timeout", "120"],
                              cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        latencies, errors, lock = [], [], threading.Lock()

        def send(chunk):
            for body in chunk:
                req = urllib.request.Request(f"http://127.0.0.1:{PORT}/api/v1/events", data=body, method="POST",
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

        chunks = [bodies[i::args.clients] for i in range(args.clients)]
        threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait()
    if not args.eager:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/14").delete(QUEUE)
    latencies.sort()
    events = args.batches * 1000
    print(f"mode: {'eager rollups in-request (embedded default)' if args.eager else 'rollups enqueued to Celery/Redis'}")
    print(f"gunicorn workers: {args.workers}, client threads: {args.clients}, errors: {len(errors)}")
    print(f"events: {events} in {args.batches} batches of 1,000; elapsed {elapsed:.2f} s")
    print(f"throughput: {events / elapsed:,.0f} events/s")
    print(f"batch latency p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms")
    if errors:
        print("first error:", errors[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
