"""Answers when a dependency is down: /healthz, and a quick 503 instead of a 500 (or a
hang) when the database is unreachable (README, "When the API answers 429 or 503")."""

from __future__ import annotations

import sys

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.views.defaults import server_error as django_server_error

from costwatch.celery import app

RETRY_AFTER = "30"
PAGE = ("<!doctype html><html lang=en><meta charset=utf-8><title>costwatch is unavailable</title>"
        "<h1>costwatch is unavailable</h1><p>Its database does not answer. Try again in a minute.</p>"
        "</html>")


def unavailable(request, what: str = "database") -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": f"{what} unavailable; retry later"}, status=503)
    else:
        response = HttpResponse(PAGE, status=503)
    response["Retry-After"] = RETRY_AFTER
    return response


def is_unavailable(exc: BaseException | None) -> bool:
    """A database that refused, dropped or timed out the connection (not a bad query)."""
    return isinstance(exc, OperationalError | InterfaceError)


class DatabaseUnavailableMiddleware:
    """A view that fails because the database is down answers 503 (JSON under /api/)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return unavailable(request) if is_unavailable(exception) else None


def server_error(request):
    """handler500: the database down in a middleware (sessions, login) is a 503 too; other
    errors under /api/ answer JSON."""
    if is_unavailable(sys.exc_info()[1]):
        return unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "internal error"}, status=500)
    return django_server_error(request)


def healthz(request):
    """200 when the database and the broker (if one is configured) answer; else 503 naming
    what is down."""
    checks = {"database": _database(), "broker": _broker()}
    down = [name for name, state in checks.items() if state == "down"]
    return JsonResponse({"status": "down: " + ", ".join(down) if down else "ok", **checks},
                        status=503 if down else 200)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return "down"
    return "ok"


def _broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "not used"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
    except Exception:
        return "down"
    return "ok"
