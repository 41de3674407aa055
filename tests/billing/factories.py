"""Factory functions and servers for the budget and alert tests: spend in the rollups, a real
SMTP server (aiosmtpd) and a real HTTP server for webhooks, both on loopback."""

from __future__ import annotations

import email
import json
import socket
import threading
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

from billing.models import Budget
from billing.pricing.money import usd_to_nano
from usage.models import DailyModelUsage, DailyUsage, DimensionUsage
from usage.rollups import refresh_blocks


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def add_spend(project, day: date, usd, *, ledger="metered", model="claude-sonnet-4-5",
              provider="anthropic", feature="", end_user="", api_key="") -> None:
    """Spend as a rollup would write it (detail, coarse and per-dimension rows)."""
    nano = usd_to_nano(Decimal(str(usd)))
    common = {"project": project, "day": day, "ledger": ledger, "provider": provider,
              "model": model, "requests": 1, "cost_nano": nano, "cost_no_cache_nano": nano,
              "cost_no_batch_nano": nano}
    DailyUsage.objects.create(feature=feature, end_user=end_user, api_key=api_key, **common)
    DailyModelUsage.objects.create(**common)
    dims = {"feature": feature, "end_user": end_user, "api_key": api_key}
    for dimension, value in dims.items():
        DimensionUsage.objects.create(
            dimension=dimension, value=value,
            **{k: v for k, v in common.items() if k not in ("provider", "model")},
        )
    refresh_blocks(project_id=project.pk, ledger=ledger, days=[day])


def make_budget(project, **fields) -> Budget:
    defaults = {"name": "Monthly", "amount_usd": Decimal("100"), "recipients": "ops@example.com",
                "forecast_alert": False}
    return Budget.objects.create(project=project, **{**defaults, **fields})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.envelopes: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(email.header.make_header(email.header.decode_header(m["Subject"])))
                for m in self.messages]

    def text(self, index: int = -1) -> str:
        for part in self.messages[index].walk():
            if part.get_content_type() == "text/plain":
                return part.get_payload(decode=True).decode()
        return ""

    def html(self, index: int = -1) -> str:
        for part in self.messages[index].walk():
            if part.get_content_type() == "text/html":
                return part.get_payload(decode=True).decode()
        return ""


@contextmanager
def smtp_server(port: int | None = None):
    """A real SMTP server on 127.0.0.1; yields (inbox, port)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 5


@contextmanager
def webhook_server(status: int = 200, location: str = ""):
    """A real HTTP server on 127.0.0.1 recording the requests sent to it (with the JSON
    bodies POSTed); answering with a Location header when given one."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append({"method": "POST", "json": json.loads(self.rfile.read(length)),
                             "content_type": self.headers["Content-Type"], "path": self.path,
                             "host": self.headers["Host"]})
            self.answer()

        def do_GET(self):  # where a followed redirect would arrive
            received.append({"method": "GET", "path": self.path, "host": self.headers["Host"]})
            self.answer()

        def answer(self):
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()
