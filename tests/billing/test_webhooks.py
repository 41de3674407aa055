"""Webhook URLs must not reach the server's own network (SSRF): refused by the budget
form, the API, the admin and again on every POST, unless
COSTWATCH_WEBHOOK_ALLOW_PRIVATE is set. No test needs outside DNS: names resolve through
/etc/hosts ("localhost") or through the `dns` fixture, which replaces name resolution
alone."""

import json
import socket
from datetime import date
from decimal import Decimal
from urllib.error import HTTPError

import pytest

from billing import alerts
from billing.models import AlertEvent, Budget
from billing.tasks import check_project_budgets
from billing.web.forms import BudgetForm
from billing.webhooks import WebhookURLRefused, check_url
from tests.billing.factories import add_spend, at, make_budget, webhook_server

pytestmark = pytest.mark.django_db
NOV = date(2026, 11, 10)
PUBLIC_IP = "93.184.215.14"
HINT = "use a public http(s) URL, or set COSTWATCH_WEBHOOK_ALLOW_PRIVATE=1 for an internal receiver"

REFUSED = [
    ("http://127.0.0.1:6379/", "127.0.0.1, a loopback address"),
    ("http://[::1]/hook", "::1, a loopback address"),
    ("http://localhost:8000/hook", "a loopback address"),  # a name resolving to loopback
    ("http://10.0.0.5/hook", "10.0.0.5, a private address"),
    ("http://172.16.3.4/hook", "172.16.3.4, a private address"),
    ("http://192.168.1.10/hook", "192.168.1.10, a private address"),
    ("http://[fd12:3456::1]/hook", "fd12:3456::1, a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address"),
    ("http://[fe80::1]/hook", "fe80::1, a link-local address"),
    ("http://0.0.0.0:8000/hook", "0.0.0.0, an unspecified address"),
    ("http://[::]/hook", "::, an unspecified address"),
    ("http://224.0.0.1/hook", "224.0.0.1, a multicast address"),
    ("http://[ff02::1]/hook", "ff02::1, a multicast address"),
    ("http://240.0.0.1/hook", "240.0.0.1, a reserved address"),
    ("http://100.64.0.1/hook", "100.64.0.1, a carrier-grade NAT address"),
    ("http://192.0.2.10/hook", "192.0.2.10, a special-purpose address"),
    ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1, a loopback address"),
    ("http://[::ffff:10.0.0.5]/hook", "::ffff:10.0.0.5, a private address"),
    ("http://[::ffff:169.254.169.254]/hook", "::ffff:169.254.169.254, a link-local address"),
    ("http://[64:ff9b::a00:5]/hook", "64:ff9b::a00:5, a private address"),  # NAT64 of 10.0.0.5
    ("ftp://example.com/hook", "webhook URL scheme “ftp” is not allowed; use an http:// or https:// URL"),
    ("https://user:secret@example.com/hook", "webhook URL contains a user name or password"),
]
URLS = [url for url, _ in REFUSED]


@pytest.fixture
def dns(monkeypatch):
    """Name resolution only: a name put in the dict resolves to its addresses (none: it
    does not resolve); anything else resolves as usual."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host in names and not names[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [info for address in names.get(host, [host]) for info in real(address, *args, **kwargs)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def form_errors(project, url: str) -> list[str]:
    data = {"name": "Team", "scope": "project", "period": "month", "amount_usd": "200",
            "ledger": "metered", "thresholds": "50, 100", "recipients": "ops@example.com",
            "webhook_url": url, "is_active": "on"}
    form = BudgetForm(data, instance=Budget(project=project))
    return [] if form.is_valid() else form.errors.get("webhook_url", ["(another field)"])


def post_budget(client, url: str):
    body = {"name": "x", "amount_usd": "10", "webhook_url": url}
    return client.post("/api/v1/budgets", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("url", "message"), REFUSED, ids=URLS)
def test_the_form_refuses(project, url, message):
    (error,) = form_errors(project, url)
    assert message in error


@pytest.mark.parametrize(("url", "message"), REFUSED, ids=URLS)
def test_the_api_refuses_with_the_field(api_client, url, message):
    response = post_budget(api_client, url)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("webhook_url: ") and message in response.json()["detail"]
    assert not Budget.objects.exists()


@pytest.mark.parametrize(("url", "message"), REFUSED, ids=URLS)
def test_post_webhook_refuses(url, message):
    with pytest.raises(WebhookURLRefused) as refused:
        alerts.post_webhook(url, {"text": "hello"})
    assert message in str(refused.value)


def test_the_message_says_what_is_wrong_and_what_to_do():
    with pytest.raises(WebhookURLRefused) as refused:
        check_url("http://10.0.0.5/hook")
    assert str(refused.value) == f"webhook URL resolves to 10.0.0.5, a private address; {HINT}"


def test_patching_a_budget_to_a_private_url_is_refused(api_client, project):
    budget = make_budget(project)
    response = api_client.patch(f"/api/v1/budgets/{budget.pk}",
                                json.dumps({"webhook_url": "http://169.254.169.254/latest/"}),
                                content_type="application/json")
    assert response.status_code == 422 and "a link-local address" in response.json()["detail"]
    budget.refresh_from_db()
    assert budget.webhook_url == ""


def test_the_page_shows_the_reason_next_to_the_field(logged_in, project):
    data = {"name": "Team", "scope": "project", "scope_value": "", "period": "month",
            "amount_usd": "200", "ledger": "metered", "thresholds": "50, 100",
            "recipients": "ops@example.com", "webhook_url": "http://10.0.0.5/hook", "is_active": "on"}
    html = logged_in.post(f"/p/{project.slug}/budgets/", data, HTTP_HX_REQUEST="true").content.decode()
    assert "webhook URL resolves to 10.0.0.5, a private address" in html
    assert not Budget.objects.exists()


def test_the_admin_refuses(client, project, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw-root-123"))
    data = {"project": project.pk, "name": "Team", "scope": "project", "period": "month",
            "amount_usd": "200", "ledger": "metered", "thresholds": "[50, 100]",
            "webhook_url": "http://127.0.0.1:6379/", "is_active": "on"}
    html = client.post("/admin/billing/budget/add/", data).content.decode()
    assert "127.0.0.1, a loopback address" in html
    assert not Budget.objects.exists()


def test_a_name_resolving_to_a_public_address_is_accepted(api_client, project, dns):
    dns["hooks.example.com"] = [PUBLIC_IP]
    url = "https://hooks.example.com/services/T0/B0/x"
    check_url(url)
    assert form_errors(project, url) == []
    assert post_budget(api_client, url).status_code == 201


def test_public_ip_literals_are_accepted():
    check_url(f"http://{PUBLIC_IP}:8080/hook")
    check_url("https://[2606:4700::1111]/hook")
    check_url(f"https://[::ffff:{PUBLIC_IP}]/hook")


def test_every_address_of_a_name_must_be_public(dns):
    dns["hooks.example.com"] = [PUBLIC_IP, "10.0.0.5"]
    with pytest.raises(WebhookURLRefused, match="resolves to 10.0.0.5, a private address"):
        check_url("https://hooks.example.com/hook")


def test_a_name_that_does_not_resolve_is_refused(project, dns):
    dns["hooks.example.com"] = []
    (error,) = form_errors(project, "https://hooks.example.com/hook")
    assert error == ("webhook URL host hooks.example.com does not resolve (Name or service not "
                     "known); use a host name this server can resolve")


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/", "http://10.0.0.5/hook", "http://localhost/hook",
                                 "http://169.254.169.254/latest/", "http://[::1]/hook"])
def test_the_opt_in_allows_internal_receivers(api_client, project, settings, url):
    settings.COSTWATCH_WEBHOOK_ALLOW_PRIVATE = True
    check_url(url)
    assert form_errors(project, url) == []
    assert post_budget(api_client, url).status_code == 201


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://10.0.0.5/hook", "scheme “ftp” is not allowed"),
    ("http://user:pw@10.0.0.5/hook", "user name or password"),
])
def test_the_opt_in_still_checks_scheme_and_credentials(project, settings, url, message):
    settings.COSTWATCH_WEBHOOK_ALLOW_PRIVATE = True
    (error,) = form_errors(project, url)
    assert message in error


# --- delivering -----------------------------------------------------------------------


def fire_and_deliver(project):
    add_spend(project, NOV, "55")
    check_project_budgets(project.pk, at=at(NOV).isoformat())
    return AlertEvent.objects.get()


def test_a_refused_url_is_recorded_like_any_failure_and_nothing_is_sent(logged_in, api_client, project):
    with webhook_server() as (url, received):  # listening on 127.0.0.1, saved before the check
        make_budget(project, amount_usd=Decimal("100"), recipients="", webhook_url=url)
        event = fire_and_deliver(project)
    assert received == []
    assert event.webhook_sent_at is None and event.attempts == 1
    assert event.last_error == (f"webhook: WebhookURLRefused: webhook URL resolves to 127.0.0.1, "
                                f"a loopback address; {HINT}")
    html = logged_in.get(f"/p/{project.slug}/budgets/").content.decode()
    assert "failing after 1 attempt" in html and "127.0.0.1, a loopback address" in html


def test_dns_changed_after_the_save_is_caught_on_delivery(api_client, project, dns):
    dns["hooks.example.com"] = [PUBLIC_IP]
    body = {"name": "Team", "amount_usd": "100", "thresholds": [50],
            "webhook_url": "https://hooks.example.com/hook"}
    assert api_client.post("/api/v1/budgets", json.dumps(body),
                           content_type="application/json").status_code == 201
    dns["hooks.example.com"] = ["10.0.0.5"]
    event = fire_and_deliver(project)
    assert event.webhook_sent_at is None
    assert "webhook URL resolves to 10.0.0.5, a private address" in event.last_error


def test_delivery_connects_to_the_vetted_address_and_keeps_the_host_name(settings, dns):
    settings.COSTWATCH_WEBHOOK_ALLOW_PRIVATE = True
    dns["hooks.example.com"] = ["127.0.0.1"]
    with webhook_server() as (url, received):
        alerts.post_webhook(url.replace("127.0.0.1", "hooks.example.com"), {"text": "hello"})
    port = url.split(":")[2].split("/")[0]
    assert [(r["method"], r["host"], r["json"]) for r in received] == [
        ("POST", f"hooks.example.com:{port}", {"text": "hello"})]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(settings, status):
    settings.COSTWATCH_WEBHOOK_ALLOW_PRIVATE = True  # both servers are on 127.0.0.1
    with webhook_server() as (target, arrived), \
            webhook_server(status=status, location=target) as (url, received), \
            pytest.raises(HTTPError, match="redirects are not followed") as failed:
        alerts.post_webhook(url, {"text": "hello"})
    assert target in str(failed.value)
    assert len(received) == 1 and arrived == []


def test_the_test_button_says_why_a_url_is_refused(logged_in, project):
    budget = make_budget(project, recipients="", webhook_url="http://10.0.0.5/hook")
    response = logged_in.post(f"/p/{project.slug}/budgets/{budget.pk}/test/", HTTP_HX_REQUEST="true")
    assert "Test failed: webhook URL resolves to 10.0.0.5, a private address" in response.content.decode()
