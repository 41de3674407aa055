"""EMAIL_URL: the SMTP settings in one variable, e.g.

    smtp://user:password@mail.example.com:587?tls=1   STARTTLS
    smtp+tls://user:password@mail.example.com         STARTTLS, port 587
    smtps://user:password@mail.example.com            TLS from the start, port 465
    smtp://127.0.0.1:1025                             plain (a local relay)
    console://                                        print e-mails (the default)

User name and password are percent-decoded (write @ as %40)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SCHEMES = {  # scheme -> (default port, STARTTLS, implicit TLS)
    "smtp": (25, False, False),
    "smtp+tls": (587, True, False),
    "submission": (587, True, False),
    "smtps": (465, False, True),
    "smtp+ssl": (465, False, True),
}
YES = {"1", "true", "yes", "on"}


def parse_email_url(url: str) -> dict:
    """Django EMAIL_* settings for url; ImproperlyConfigured says what is wrong."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme not in SCHEMES:
        raise ImproperlyConfigured(
            f"EMAIL_URL: scheme {scheme or '(none)'!r} is not supported; expected "
            f"{', '.join(SCHEMES)} or console, e.g. smtp+tls://user:password@mail.example.com")
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL: no host, e.g. smtp://mail.example.com:25")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL: the port is not a number from 1 to 65535") from None
    default_port, starttls, implicit_tls = SCHEMES[scheme]
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    starttls = starttls or query.get("tls") in YES
    implicit_tls = implicit_tls or query.get("ssl") in YES
    if starttls and implicit_tls:
        raise ImproperlyConfigured("EMAIL_URL: choose STARTTLS (tls=1, smtp+tls) or implicit TLS "
                                   "(ssl=1, smtps), not both")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or default_port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": starttls,
        "EMAIL_USE_SSL": implicit_tls,
    }
