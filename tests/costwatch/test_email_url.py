"""EMAIL_URL: parsed into Django's EMAIL_* settings, and used for real by a fresh process."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from costwatch.email_url import parse_email_url
from tests.billing.factories import smtp_server

ROOT = Path(__file__).resolve().parents[2]
SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.com", ("mail.example.com", 25, "", "", False, False)),
    ("smtp://u:p@mail.example.com:2525?tls=1", ("mail.example.com", 2525, "u", "p", True, False)),
    ("smtp+tls://alerts%40acme.io:s%2Fecret@smtp.example.com", ("smtp.example.com", 587, "alerts@acme.io", "s/ecret", True, False)),
    ("smtps://u:p@smtp.example.com", ("smtp.example.com", 465, "u", "p", False, True)),
    ("smtp://relay.local:1025?ssl=true", ("relay.local", 1025, "", "", False, True)),
])
def test_parse(url, expected):
    got = parse_email_url(url)
    assert got["EMAIL_BACKEND"] == SMTP
    assert (got["EMAIL_HOST"], got["EMAIL_PORT"], got["EMAIL_HOST_USER"], got["EMAIL_HOST_PASSWORD"],
            got["EMAIL_USE_TLS"], got["EMAIL_USE_SSL"]) == expected


def test_console():
    assert parse_email_url("console://") == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


@pytest.mark.parametrize("url, message", [
    ("http://mail.example.com", "scheme 'http' is not supported"),
    ("mail.example.com", "scheme '(none)' is not supported"),
    ("smtp://", "no host"),
    ("smtp://mail.example.com:99999", "port is not a number"),
    ("smtps://mail.example.com?tls=1", "not both"),
])
def test_bad_urls_say_what_is_wrong(url, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        parse_email_url(url)


def test_a_fresh_process_sends_through_the_email_url():
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with smtp_server() as (inbox, port):
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
        result = subprocess.run([sys.executable, "manage.py", "sendtestemail", "ops@example.com"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    assert inbox.envelopes == [["ops@example.com"]]
    assert "Test email from" in inbox.subjects()[0]
