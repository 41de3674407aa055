"""The weekly digest: opt-in per project, Monday 09:00 in the project's time zone.

It covers the previous Monday–Sunday (the project's local dates, read as the rollups'
UTC days). A DigestSent row per (project, week) is claimed and locked before sending, so
the hourly beat, a second beat or a retry never send one week twice; a failed send is
retried by the next hourly run on that Monday.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing import alerts, budgets
from billing.models import Budget, DigestSent
from billing.pricing.money import format_usd
from costwatch.tenant.models import Project
from usage.reports.queries import SpendQuery, default_ledger, spend

logger = logging.getLogger(__name__)
SEND_HOUR = 9
TOP = 5


def local_now(project: Project, now: datetime) -> datetime:
    try:
        zone = ZoneInfo(project.timezone or "UTC")
    except Exception:
        zone = ZoneInfo("UTC")
    return now.astimezone(zone)


def due_week(project: Project, *, now: datetime) -> date | None:
    """The Monday of the week to report on, if the project's digest is due now."""
    local = local_now(project, now)
    if local.weekday() != 0 or local.hour < SEND_HOUR:
        return None
    return local.date() - timedelta(days=7)


def _change(current: int, previous: int) -> Decimal | None:
    if not previous:
        return None
    return (Decimal(current - previous) * 100 / previous).quantize(Decimal("0.1"), ROUND_HALF_UP)


def build(project: Project, *, week_start: date, now: datetime) -> dict:
    week_end = week_start + timedelta(days=6)
    ledger = default_ledger(project, week_start, week_end)

    def query(**kw) -> SpendQuery:
        return SpendQuery(project=project, start=week_start, end=week_end, ledger=ledger, **kw)

    _, total, _ = spend(query())
    _, previous, _ = spend(SpendQuery(project=project, start=week_start - timedelta(days=7),
                                      end=week_start - timedelta(days=1), ledger=ledger))
    tops = {}
    for dim in ("model", "feature", "user"):
        rows, _, _ = spend(query(group_by=[dim]))
        rows = sorted((r for r in rows if r["cost_nano"] and r[dim]), key=lambda r: -r["cost_nano"])
        tops[dim] = [{"name": r[dim], "cost": format_usd(r["cost_nano"])} for r in rows[:TOP]]
    statuses = []
    for budget in Budget.objects.filter(project=project, is_active=True):
        st = budgets.status(budget, now=now)
        statuses.append({"name": budget.name, "spend": format_usd(st.spend_nano),
                         "amount": format_usd(st.amount_nano), "percent": st.percent,
                         "projected": format_usd(st.projected_nano),
                         "runout": st.runout_date, "period_end": st.period_end})
    return {
        "project": project, "week_start": week_start, "week_end": week_end, "ledger": ledger,
        "total": format_usd(total["cost_nano"]), "previous": format_usd(previous["cost_nano"]),
        "change": _change(total["cost_nano"], previous["cost_nano"]),
        "requests": total["requests"],
        "cache_savings": format_usd(total["cost_no_cache_nano"] - total["cost_nano"]),
        "top_models": tops["model"], "top_features": tops["feature"], "top_users": tops["user"],
        "budgets": statuses,
        "url": f"{settings.SITE_URL}{reverse('overview', args=[project.slug])}"
               f"?range=custom&start={week_start}&end={week_end}&ledger={ledger}",
    }


def send_digest(project: Project, *, week_start: date, now: datetime) -> bool:
    """Send one week's digest unless already sent. True if sent now."""
    to = alerts.recipient_list(project.digest_recipients)
    if not to:
        return False
    with transaction.atomic():
        DigestSent.objects.get_or_create(project=project, week_start=week_start)
        row = DigestSent.objects.select_for_update().get(project=project, week_start=week_start)
        if row.sent_at:
            return False
        ctx = build(project, week_start=week_start, now=now)
        subject = f"[costwatch] {project.name}: {ctx['total']} spent {week_start:%b %-d}–{ctx['week_end']:%b %-d}"
        message = alerts.Message(subject=subject,
                                 text=render_to_string("email/digest.txt", ctx),
                                 html=render_to_string("email/digest.html", ctx), webhook_body={},
                                 message_id=f"<digest-{project.pk}-{week_start}@costwatch>")
        row.attempts += 1
        try:
            alerts.send_email(message, to)
            row.sent_at = timezone.now()
            row.last_error = ""
        except Exception as exc:
            logger.warning("digest for %s not sent: %s", project.slug, exc)
            row.last_error = f"{exc.__class__.__name__}: {exc}"
        row.save(update_fields=["sent_at", "attempts", "last_error"])
    return row.sent_at is not None


def send_due(*, now: datetime) -> int:
    sent = 0
    for project in Project.objects.filter(weekly_digest=True).exclude(digest_recipients=""):
        week_start = due_week(project, now=now)
        if week_start is not None and send_digest(project, week_start=week_start, now=now):
            sent += 1
    return sent
