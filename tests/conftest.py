import os

import pytest

REQUIRE_SERVICES = os.environ.get("COSTWATCH_REQUIRE_SERVICES") == "1"
# `make test` runs the suite twice: on SQLite, then on PostgreSQL with a real Celery worker.
# A test that touches no database gives the same answer in both, so the PostgreSQL pass
# (DATABASE_URL=postgres…) leaves it to the SQLite pass: COSTWATCH_DB_TESTS_ONLY=1 (set by
# `make test` for that pass).
DB_TESTS_ONLY = os.environ.get("COSTWATCH_DB_TESTS_ONLY") == "1"


def pytest_collection_modifyitems(config, items):
    if not DB_TESTS_ONLY:
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") or "django_db_setup" in getattr(item, "fixturenames", ())
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def need(condition: bool, reason: str) -> None:
    """Skip when a service is missing on a developer machine; fail in CI."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (COSTWATCH_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the tests use a database file, as the embedded default does, not Django's
    in-memory test database: that one is a shared-cache database, whose table locks fail at
    once ("database table is locked") when a second connection touches a table, with no
    busy timeout and no WAL, so the browser tests' background-thread import (its own
    connection) could not run beside the live server's page polls."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3" and not db.get("TEST", {}).get("NAME"):
        # per process (xdist workers each have their own base temp)
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.getbasetemp() / "costwatch-test.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def _flush_usage_records_by_delete():
    """A transactional test ends with one TRUNCATE of every table. On PostgreSQL that
    truncates each monthly partition of the usage records (usage.partitions: one per month
    any test of the process wrote, each a heap and its indexes), ~0.1 s a partition per
    test; a test's few rows are deleted in no time instead."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    from usage.models import UsageRecord

    table = UsageRecord._meta.db_table
    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        rest = [t for t in tables if t != table]
        return ([f"DELETE FROM {table}"] if table in tables else []) + truncate(
            self, style, rest, reset_sequences=reset_sequences, allow_cascade=allow_cascade)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture(scope="session", autouse=True)
def _test_settings(tmp_path_factory):
    """Tests link static files by their plain names, served from the app folders, whether or
    not a `make demo` left a collected copy (hashed names) in ./staticfiles.

    Passwords are hashed with MD5 (Django's advice for test suites): PBKDF2's 1,000,000
    iterations took 0.5 s of CPU for each user a test creates and each password login, most
    of a test's setup; logins still check the password, throttles still count failures."""
    from django.test.utils import override_settings

    with override_settings(STATIC_ROOT=str(tmp_path_factory.mktemp("static")),
                           PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _price_catalog(request):
    """Every test with database access sees the shipped price catalog (a flush after a
    transactional test wipes it; post_migrate reloads it, this covers the rest)."""
    names = set(request.fixturenames)
    if names & {"db", "transactional_db", "live_server"} or request.node.get_closest_marker("django_db"):
        from billing.pricing.catalog import ensure_catalog

        request.getfixturevalue("transactional_db" if "transactional_db" in names or "live_server" in names else "db")
        ensure_catalog()


@pytest.fixture(autouse=True)
def _empty_page_cache():
    """Each test starts with an empty cache (per process: it outlives a test's rolled-back
    database, whose ids the next test may not share). The price book is not reset: the
    process keeps it while the prices' version stays (PriceBook.current), across tests too."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _imports_in_request(request, settings):
    """Outside the browser tests an upload is imported inside the request (a thread could
    not see the test's uncommitted transaction); the browser tests keep the default."""
    if not request.node.get_closest_marker("e2e"):
        settings.IMPORT_IN_THREAD = False


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def project(db, user):
    from costwatch.tenant.models import Project

    project = Project.objects.create(slug="acme", name="Acme")
    project.members.add(user)
    return project


@pytest.fixture
def ingest_key(project):
    from costwatch.tenant.keys import create_key

    _, raw = create_key(project)
    return raw


@pytest.fixture
def api_client(client, ingest_key):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {ingest_key}"
    return client


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


# --- real services: PostgreSQL + Redis + a Celery worker subprocess ---------------------

REDIS_URL = os.environ.get("COSTWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _reset_celery_pools(app) -> None:
    """Forget connections made with the previous broker settings."""
    import kombu.pools

    kombu.pools.reset()
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_worker_factory(transactional_db, settings):
    """Start a real Celery worker (a subprocess) on Redis against the test PostgreSQL DB.

    Returns start(**extra_env) -> the Popen. Tasks sent by this test process go to a
    queue of this test's own, so stray workers never take them."""
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from django.db import connection

    from costwatch.celery import app

    need(connection.vendor == "postgresql", "a real Celery worker needs PostgreSQL (set DATABASE_URL)")
    need(_redis_up(), f"Redis not reachable at {REDIS_URL}")

    queue = f"costwatch-test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    db_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    saved = {k: app.conf.get(k) for k in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False, task_default_queue=queue)
    _reset_celery_pools(app)
    procs = []
    root = Path(__file__).resolve().parent.parent

    def start(**extra_env):
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "DB_CONN_MAX_AGE": "0",
            **{k: str(v) for k, v in extra_env.items()},
        }
        log = open(root / f".pytest-worker-{queue}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "costwatch", "worker", "-Q", queue,
             "--pool=solo", "-l", "info", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"{queue}@%h"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        procs.append((proc, log))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
                return proc
            if proc.poll() is not None:
                break
        log.flush()
        raise RuntimeError("Celery worker did not start:\n" + (root / log.name).read_text()[-3000:])

    yield start

    for proc, log in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
        log.close()
        Path(log.name).unlink(missing_ok=True)
    app.conf.update(**saved)
    _reset_celery_pools(app)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.2):
    """Poll until predicate() is truthy (for work done by another process)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
