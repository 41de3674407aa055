"""Issue 12, item 9: logins are throttled per user name and per address (counted in the
database, so across processes); ingest keys are rate-limited with 429 and Retry-After."""

import json

import pytest

from costwatch.tenant.models import Throttle

pytestmark = pytest.mark.django_db


def login(client, password, username="alice", address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_sixty_wrong_passwords_then_the_right_one_is_refused(client, user, settings):
    for _ in range(60):
        assert login(client, "wrong").status_code in (200, 429)
    response = login(client, "pw-alice-123")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_user_is_throttled_from_every_address(client, user, settings):
    settings.LOGIN_FAILURES_PER_USER = 5
    for i in range(5):
        login(client, "wrong", address=f"10.0.1.{i}")
    assert login(client, "pw-alice-123", address="10.0.2.1").status_code == 429


def test_an_address_is_throttled_for_every_user(client, user, django_user_model, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-123")
    for i in range(5):
        login(client, "wrong", username=f"guess{i}")
    assert login(client, "pw-bob-123", username="bob").status_code == 429
    assert login(client, "pw-bob-123", username="bob", address="10.9.9.9").status_code == 302


def test_a_few_failures_then_the_right_password_logs_in(client, user):
    for _ in range(3):
        assert login(client, "wrong").status_code == 200
    assert login(client, "pw-alice-123").status_code == 302


def test_the_window_ends(client, user, settings):
    settings.LOGIN_FAILURES_PER_USER = 2
    login(client, "wrong")
    login(client, "wrong")
    assert login(client, "pw-alice-123").status_code == 429
    from datetime import timedelta

    from django.utils import timezone
    Throttle.objects.update(window_start=timezone.now() - timedelta(seconds=settings.LOGIN_THROTTLE_SECONDS + 1))
    assert login(client, "pw-alice-123").status_code == 302


def test_counts_live_in_the_database_not_in_the_process(client, user):
    login(client, "wrong")
    assert Throttle.objects.filter(key__startswith="login-user:").get().count == 1
    assert not Throttle.objects.filter(key__contains="alice").exists()  # the name is hashed


def test_ingest_key_rate_limit_is_a_429_with_retry_after(api_client, project, settings):
    from usage.models import UsageRecord

    settings.INGEST_RATE_PER_MINUTE = 3
    body = json.dumps({"model": "gpt-4o", "input_tokens": 1})
    codes = [api_client.post("/api/v1/events", data=body, content_type="application/json").status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = api_client.post("/api/v1/events", data=body, content_type="application/json")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert UsageRecord.objects.count() == 3
