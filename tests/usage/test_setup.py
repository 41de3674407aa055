"""Projects, keys, login on every page, management commands, production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from costwatch.tenant.keys import authenticate_key
from costwatch.tenant.models import IngestKey, Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_create_project_prints_the_key_on_its_last_line(capsys):
    call_command("create_project", "shop", "--name", "Shop")
    out = capsys.readouterr().out.strip().splitlines()
    key = authenticate_key(out[-1])
    assert key is not None and key.project.slug == "shop"
    assert out[-1] not in IngestKey.objects.values_list("key_hash", flat=True)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/p/acme/", "/p/acme/keys/", "/admin/"])
def test_every_page_needs_login(client, project, url):
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.django_db
def test_users_see_only_their_projects(client, project, django_user_model):
    other = Project.objects.create(slug="other", name="Other")
    client.force_login(django_user_model.objects.get(username="alice"))
    assert client.get(f"/p/{project.slug}/").status_code == 200
    assert client.get(f"/p/{other.slug}/").status_code == 404
    assert client.get(f"/p/{other.slug}/keys/").status_code == 404


@pytest.mark.django_db
def test_keys_page_shows_a_new_key_once_and_revokes(logged_in, project):
    response = logged_in.post(f"/p/{project.slug}/keys/", {"name": "ci"})
    raw = response.context["new_key"]
    assert raw in response.content.decode()
    assert authenticate_key(raw) is not None
    listing = logged_in.get(f"/p/{project.slug}/keys/").content.decode()
    assert raw not in listing and raw[:10] in listing
    key = IngestKey.objects.get(project=project, name="ci")
    logged_in.post(f"/p/{project.slug}/keys/", {"revoke": key.pk})
    assert authenticate_key(raw) is None


@pytest.mark.django_db
def test_csrf_is_enforced_on_pages(project, user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(f"/p/{project.slug}/keys/", {"name": "x"}).status_code == 403


@pytest.mark.django_db
def test_seed_demo_builds_a_realistic_project(capsys):
    call_command("seed_demo", "--days", "3")
    out = capsys.readouterr().out
    assert "demo / demo-password" in out
    project = Project.objects.get(slug="demo")
    features = set(project.records.values_list("feature", flat=True))
    assert {"content-assistant", "code-review", "email-classifier", "support-chat"} <= features
    assert project.records.filter(batch=True).exists()
    assert project.records.filter(cache_read_tokens__gt=0).exists()
    assert project.records.filter(ledger="billed").exists()
    assert not project.records.filter(cost_nano__isnull=True).exists()


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by browser tests
    env = {**base, "DEBUG": "0", "SECRET_KEY": "x" * 64 + "-production-secret-key-for-check",
           "ALLOWED_HOSTS": "costwatch.example.com", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_pages_send_a_strict_csp_and_load_nothing_from_outside(logged_in, project):
    response = logged_in.get(f"/p/{project.slug}/")
    directives = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";"))
    assert directives["default-src"] == "'self'"
    # scripts only from our own origin (plus a per-request nonce when a page uses one)
    assert directives["script-src"].split()[0] == "'self'"
    assert all(s == "'self'" or s.startswith("'nonce-") for s in directives["script-src"].split())
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    import re

    html = response.content.decode()
    # every script, stylesheet, image and font comes from this server
    resources = re.findall(r'<(?:script|link|img|iframe|source)\b[^>]*?(?:src|href)="([^"]+)"', html)
    assert resources and all(url.startswith(("/", "data:")) for url in resources), resources


def test_the_embedded_sqlite_database_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    """`make demo`'s file database: pages read while a background import writes (WAL), and a
    write waits for the import's lock instead of failing at once with 'database is locked'."""
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env = {**base, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    code = ("from django.db import connection; c = connection.cursor(); "
            "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA busy_timeout').fetchone()[0])")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["wal", "20000"]
