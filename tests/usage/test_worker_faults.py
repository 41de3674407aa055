"""Issue 12, items 6, 9, 10 — faults of the deployed path (PostgreSQL, Redis, real Celery
workers), each ending with exact totals:

- Redis killed and restarted under ingest: the worker survives and every day is rolled up;
- a worker killed (-9) mid-import: the task is redelivered and the import runs again, once;
- a worker killed (-9) mid-rollup: the task is redelivered and the day is rolled up.

The kills land at a known point: a second connection holds a table lock the task's
transaction needs, the test waits until the worker's backend waits on it, kills the worker
and releases the lock (no race against the size of the data, so the data stays small).

Each test runs its own redis-server on a free port (never the shared one) and its own
workers on it."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Sum

from costwatch.celery import app
from costwatch.tenant.models import Project
from tests.conftest import _reset_celery_pools, need, wait_until
from usage import tasks
from usage.ingest import record_usage
from usage.models import DailyUsage, DirtyDay, ImportJob, UsageRecord
from usage.records import Record

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server of this test's own (no persistence), that can be killed and restarted."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
                                      "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        wait_until(lambda: _pings(redis.Redis.from_url(self.url, socket_connect_timeout=0.5)), timeout=10)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def services(settings):
    """Own Redis + a start(**env) for workers on it; the test process publishes there."""
    need(connection.vendor == "postgresql", "real workers need PostgreSQL (set DATABASE_URL)")
    need(subprocess.run(["which", "redis-server"], capture_output=True).returncode == 0, "redis-server not installed")
    redis = Redis()
    redis.start()
    queue = f"costwatch-faults-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    db_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    saved = {k: app.conf.get(k) for k in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(broker_url=redis.url, task_always_eager=False, task_default_queue=queue)
    _reset_celery_pools(app)
    tasks._broker_down_until = 0.0
    workers = []

    def start(name: str = "w1", **extra_env):
        log = open(ROOT / f".pytest-worker-{queue}-{name}.log", "w")  # noqa: SIM115
        env = {**os.environ, "DATABASE_URL": db_url, "CELERY_BROKER_URL": redis.url,
               "CELERY_TASK_DEFAULT_QUEUE": queue, "DB_CONN_MAX_AGE": "0",
               **{k: str(v) for k, v in extra_env.items()}}
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "costwatch", "worker", "-Q", queue, "--pool=prefork",
             "--concurrency=1", "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"{queue}-{name}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        workers.append((proc, log))
        node = f"{queue}-{name}@{os.uname().nodename}"
        wait_until(lambda: app.control.ping(destination=[node], timeout=0.5) or proc.poll() is not None,
                   timeout=40)
        assert proc.poll() is None, (ROOT / log.name).read_text()[-3000:]
        return proc

    yield redis, start
    for proc, log in workers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        Path(log.name).unlink(missing_ok=True)
    if redis.proc and redis.proc.poll() is None:
        redis.kill()
    app.conf.update(**saved)
    _reset_celery_pools(app)
    tasks._broker_down_until = 0.0


class TableLock:
    """EXCLUSIVE lock on a table from a connection of its own: reads go on, writes wait."""

    def __init__(self, table: str):
        import psycopg

        db = connection.settings_dict
        self.table = table
        self.conn = psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
                                    user=db["USER"] or "postgres", dbname=db["NAME"])
        self.conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

    def waiting(self) -> bool:
        """Whether another backend waits for a lock on the table (pg_locks: a statement's
        text in pg_stat_activity is cut at 1 KB, before a long one names the table)."""
        row = self.conn.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted AND pid <> pg_backend_pid()",
            [self.table]).fetchone()
        return row[0] > 0

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def rolled_up_equals_records(project) -> bool:
    if DirtyDay.objects.filter(project=project).exists():
        return False
    rolled = DailyUsage.objects.filter(project=project).aggregate(c=Sum("cost_nano"), n=Sum("requests"))
    stored = UsageRecord.objects.filter(project=project).aggregate(c=Sum("cost_nano"), n=Sum("requests"))
    return rolled == stored


def batch(prefix: str, days: int = 20, per_day: int = 50):
    start = datetime(2026, 10, 1, 9, tzinfo=UTC)
    return [Record(external_id=f"{prefix}-{d}-{i}", timestamp=start + timedelta(days=d, minutes=i),
                   model="claude-haiku-4-5", input_tokens=1000 + i, output_tokens=100)
            for d in range(days) for i in range(per_day)]


def test_worker_survives_redis_killed_under_ingest(services, settings):
    redis, start = services
    settings.ROLLUP_COALESCE_SECONDS = 0
    settings.ROLLUP_LATE_SECONDS = 2  # the beat below takes marks whose task was lost with Redis
    project = Project.objects.create(slug="acme", name="Acme")
    worker = start()
    for n in range(3):
        record_usage(project=project, source="api", records=batch(f"a{n}"))
    redis.kill()  # while the worker has rollups to do
    for n in range(3):  # ingest goes on without the broker: stored, marks left for the beat
        record_usage(project=project, source="api", records=batch(f"b{n}"))
    time.sleep(3)
    redis.start()
    tasks._broker_down_until = 0.0
    _reset_celery_pools(app)
    for n in range(3):
        record_usage(project=project, source="api", records=batch(f"c{n}"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not rolled_up_equals_records(project):
        tasks.rollup_dirty()  # the beat: queue what no task is due to take (lost with Redis)
        time.sleep(2)
    assert worker.poll() is None, "the worker died on broker loss"
    assert rolled_up_equals_records(project)
    assert UsageRecord.objects.filter(project=project).count() == 9 * 20 * 50


HEADER = ("usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
          "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
          "usage_output_tokens,web_search_count,inference_geo,speed\n")


def test_worker_killed_mid_import_is_redelivered_and_imports_once(services, tmp_path, settings):
    _, start = services
    settings.MEDIA_ROOT = tmp_path
    project = Project.objects.create(slug="acme", name="Acme")
    rows = 5_000  # three chunks
    path = tmp_path / "claude_api_tokens.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(rows):
            day, hour, key = 1 + i // 2400, (i // 100) % 24, i % 100
            out.write(f"2026-03-{day:02d} {hour:02d}:00,claude-haiku-4-5-20251001,key-{key},Default,standard,"
                      f"≤ 200k,1000,0,0,0,100,0,global,\n")
    env = {"CELERY_VISIBILITY_TIMEOUT": 5, "CELERY_UNACKED_RESTORE_SECONDS": 1, "IMPORT_HEARTBEAT_SECONDS": 1}
    first = start("w1", **env)
    # Every record is written (uncommitted) before the import marks its days dirty: it
    # stops there, at the end of its transaction, and is killed.
    lock = TableLock(DirtyDay._meta.db_table)
    job = ImportJob.objects.create(project=project, file_name=path.name, file_path=str(path),
                                   file_size=path.stat().st_size)
    tasks.import_file.delay(job.pk)
    try:
        wait_until(lock.waiting, timeout=60, interval=0.05)
        assert ImportJob.objects.get(pk=job.pk).status == "running"
        os.killpg(first.pid, signal.SIGKILL)  # the whole worker, mid-import
        first.wait()
    finally:
        lock.release()
    assert UsageRecord.objects.filter(project=project).count() == 0  # the killed run wrote nothing
    start("w2", **env)  # Redis hands the unacked task to it after the visibility timeout
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).status in {"done", "failed"}, timeout=120)
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert job.records_added == rows == UsageRecord.objects.filter(project=project).count()
    assert job.cost_nano == rows * 1_500_000  # Haiku 4.5: 1000 × $1/M + 100 × $5/M per row


def test_worker_killed_mid_rollup_is_redelivered_and_rolls_the_day_up(services, settings):
    _, start = services
    settings.ROLLUP_COALESCE_SECONDS = 0
    project = Project.objects.create(slug="acme", name="Acme")
    day = date(2026, 10, 1)
    ts = datetime(2026, 10, 1, 9, tzinfo=UTC)
    records = [Record(external_id=f"r{i}", timestamp=ts + timedelta(seconds=i), model="claude-haiku-4-5",
                      feature=f"f{i % 50}", end_user=f"u{i % 97}", input_tokens=1000 + i % 7, output_tokens=100)
               for i in range(3_000)]
    record_usage(project=project, source="api", records=records)  # queues the day's rollup
    env = {"CELERY_VISIBILITY_TIMEOUT": 5, "CELERY_UNACKED_RESTORE_SECONDS": 1}
    # The rollup holds the project's lock and has summed the day when it writes the
    # detailed rollup: it stops there, inside its transaction, and is killed.
    lock = TableLock(DailyUsage._meta.db_table)
    try:
        first = start("w1", **env)  # which takes the task
        wait_until(lock.waiting, timeout=60, interval=0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        lock.release()
    assert DirtyDay.objects.filter(project=project, day=day).exists()  # not rolled up by the killed run
    start("w2", **env)
    wait_until(lambda: not DirtyDay.objects.filter(project=project).exists(), timeout=120)
    assert rolled_up_equals_records(project)
    assert DailyUsage.objects.filter(project=project, day=day).aggregate(n=Sum("requests"))["n"] == 3_000
