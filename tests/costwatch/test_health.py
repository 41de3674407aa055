"""Issue 12, item 8: the database down answers a JSON 503 (API) or a plain error page, a
hung database does not hang requests, and /healthz says which dependency is down."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from costwatch.celery import app
from tests.conftest import _reset_celery_pools

ROOT = Path(__file__).resolve().parent.parent.parent

PROBE = r"""
import json, os, time
from concurrent.futures import ThreadPoolExecutor
import django
django.setup()
from django.test import Client
REQUESTS = [
    ("ingest", "post", "/api/v1/events", {"data": '{"model": "gpt-4o", "input_tokens": 1}',
                                           "content_type": "application/json",
                                           "HTTP_AUTHORIZATION": "Bearer cw_live_x"}),
    ("spend", "get", "/api/v1/spend?start=2026-01-01&end=2026-01-31", {"HTTP_AUTHORIZATION": "Bearer cw_live_x"}),
    ("page", "post", "/login/", {"data": {"username": "demo", "password": "demo-password"}}),
    ("healthz", "get", "/healthz", {}),
]

def call(request):  # each on a thread (and a database connection) of its own, all at once
    name, method, path, extra = request
    t = time.monotonic()
    r = getattr(Client(raise_request_exception=False), method)(path, **extra)
    return name, {"status": r.status_code, "type": r["Content-Type"], "body": r.content.decode()[:300],
                  "retry_after": r.get("Retry-After"), "seconds": time.monotonic() - t}

with ThreadPoolExecutor(len(REQUESTS)) as pool:
    out = dict(pool.map(call, REQUESTS))
print(json.dumps(out))
"""


def probe(database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "0", "SECRET_KEY": "test", "ALLOWED_HOSTS": "testserver",
           "SECURE_SSL_REDIRECT": "0", "DJANGO_SETTINGS_MODULE": "costwatch.settings", "CELERY_BROKER_URL": ""}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_unavailable(out: dict) -> None:
    for name in ("ingest", "spend"):
        assert out[name]["status"] == 503, out[name]
        assert out[name]["type"] == "application/json"
        assert "database unavailable" in json.loads(out[name]["body"])["detail"]
        assert out[name]["retry_after"] == "30"
    assert out["page"]["status"] == 503 and out["page"]["type"].startswith("text/html")
    assert "costwatch is unavailable" in out["page"]["body"]
    assert out["healthz"]["status"] == 503
    assert json.loads(out["healthz"]["body"])["database"] == "down"


def test_database_down_is_a_503_not_a_500():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = probe(f"postgres://postgres@127.0.0.1:{port}/costwatch")
    assert_unavailable(out)
    print({name: round(r["seconds"], 3) for name, r in out.items()})  # bench figure, not asserted


def test_a_database_that_accepts_but_never_answers_is_a_503_after_the_connect_timeout():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])  # never answers
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        out = probe(f"postgres://postgres@127.0.0.1:{server.getsockname()[1]}/costwatch")
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
    assert_unavailable(out)


@pytest.mark.django_db
def test_healthz_ok_without_a_broker(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "not used"}


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    saved = app.conf.broker_url
    app.conf.broker_url = settings.CELERY_BROKER_URL
    _reset_celery_pools(app)
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = saved
        _reset_celery_pools(app)
    assert response.status_code == 503
    assert response.json() == {"status": "down: broker", "database": "ok", "broker": "down"}
