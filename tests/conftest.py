import os

import pytest

REQUIRE_SERVICES = os.environ.get("COSTWATCH_REQUIRE_SERVICES") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip when a service is missing on a developer machine; fail in CI."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (COSTWATCH_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _price_catalog(request):
    """Every test with database access sees the shipped price catalog (a flush after a
    transactional test wipes it; post_migrate reloads it, this covers the rest)."""
    names = set(request.fixturenames)
    if names & {"db", "transactional_db", "live_server"} or request.node.get_closest_marker("django_db"):
        from billing.catalog import ensure_catalog

        request.getfixturevalue("transactional_db" if "transactional_db" in names or "live_server" in names else "db")
        ensure_catalog()


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def project(db, user):
    from usage.models import Project

    project = Project.objects.create(slug="acme", name="Acme")
    project.members.add(user)
    return project


@pytest.fixture
def ingest_key(project):
    from usage.projects import create_key

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
