"""Budget alerts: fire() records each crossing once, deliver() sends it once.

Exactly once, firing: AlertEvent is unique per (budget, period_start, threshold), so a
second insert of the same threshold fails in the database whatever the number of
workers. The check also locks the budget row while it inserts, so that the thresholds
crossed together are grouped by one check: one message names the highest and lists
the others (`other_thresholds`); the others' events point at it (`bundled_into`).

Exactly once, delivering: deliver() locks the event row (SELECT … FOR UPDATE), skips
what is already marked sent, sends, and marks `sent_at` in the same transaction, one
channel (e-mail, webhook) at a time so that a slow webhook never widens the e-mail's
window. A concurrent or repeated delivery waits for the lock and then sees `sent_at`.
The one remaining window: the SMTP server (or webhook) has accepted the message and the
worker dies before COMMIT — one UPDATE of one row later (the SMTP QUIT comes after the
COMMIT). Then the row is unmarked and the retry sends a second copy. It cannot be closed without the receiver taking an idempotency key;
the `Message-ID` is stable per event (`<alert-<id>@costwatch>`) and the webhook body
carries `alert.id`, so receivers can de-duplicate it.

Webhook body (POST, application/json, Slack-compatible `text`):
    {"text": "...", "type": "budget.threshold" | "budget.forecast" | "budget.test",
     "project": {"slug", "name"},
     "budget": {"id", "name", "scope", "scope_value", "period", "ledger", "amount_usd"},
     "alert": {"id", "threshold", "other_thresholds", "period_start", "period_end",
               "spend_usd", "percent_used", "projected_usd", "runout_date", "fired_at"},
     "url": "<dashboard link filtered to the budget's scope>"}
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing import budgets, webhooks
from billing.models import AlertEvent, Budget
from billing.pricing.money import decimal_string, format_usd
from costwatch import clock

logger = logging.getLogger(__name__)

FORECAST = AlertEvent.FORECAST
WEBHOOK_TIMEOUT = 10
# The periodic check re-sends what is still undelivered after Celery's own retries
# (or in the embedded mode, where there are none) — but not an event a retry chain is
# still working on, nor old news.
SWEEP_AFTER = timedelta(minutes=15)
SWEEP_MAX_AGE = timedelta(days=7)


class DeliveryFailed(Exception):
    pass


def recipient_list(text: str) -> list[str]:
    return [a.strip() for a in text.replace(";", ",").replace("\n", ",").split(",") if a.strip()]


# --- firing ---------------------------------------------------------------------------


def check_budget(budget: Budget, *, now: datetime) -> list[int]:
    """Fire what the budget's spend has crossed; returns the ids of events to deliver."""
    st = budgets.status(budget, now=now)
    forecast = budget.forecast_alert and st.over_forecast
    if not st.crossed and not forecast:
        return []
    return fire(budget, status=st, thresholds=st.crossed, forecast=forecast)


def budget_saved(budget: Budget, *, amount_changed: bool, now: datetime) -> list[int]:
    """After a budget is created or edited: re-arm what a new amount un-crossed, then
    check it at once (not at the next rollup). Returns the ids of events to deliver."""
    if amount_changed:
        rearm(budget, now=now)
    if not budget.is_active or budget.archived_at:
        return []
    return check_budget(budget, now=now)


def rearm(budget: Budget, *, now: datetime) -> list[int]:
    """The amount changed: a new revision, and this period's fired thresholds that the
    spend no longer crosses at the new amount fire again when crossed again. Returns the
    re-armed thresholds."""
    st = budgets.status(budget, now=now)
    with transaction.atomic():
        Budget.objects.select_for_update().filter(pk=budget.pk).update(amount_revision=F("amount_revision") + 1)
        budget.refresh_from_db(fields=["amount_revision"])
        still = set(st.crossed) | ({FORECAST} if st.over_forecast or st.spend_nano >= st.amount_nano else set())
        events = AlertEvent.objects.filter(budget=budget, period_start=st.period_start,
                                           rearmed_at__isnull=True).exclude(threshold__in=still)
        thresholds = sorted(events.values_list("threshold", flat=True))
        events.update(rearmed_at=now)
    return thresholds


def check_project(*, project_id: int, now: datetime) -> list[int]:
    ids: list[int] = []
    for budget in Budget.objects.filter(project_id=project_id, is_active=True).select_related("project"):
        try:
            ids += check_budget(budget, now=now)
        except Exception:  # one broken budget must not stop the others' alerts
            logger.exception("budget %s: check failed", budget.pk)
    return ids


def _insert(budget: Budget, st: budgets.Status, threshold: int, revision: int) -> AlertEvent | None:
    try:
        with transaction.atomic():
            return AlertEvent.objects.create(
                budget=budget,
                period_start=st.period_start,
                threshold=threshold,
                revision=revision,
                spend_nano=st.spend_nano,
                amount_nano=st.amount_nano,
                projected_nano=st.projected_nano,
                runout_date=st.runout_date,
                recipients=", ".join(recipient_list(budget.recipients)),
                webhook_url=budget.webhook_url,
            )
    except IntegrityError:  # fired by someone else: the unique key says no
        return None


def fire(budget: Budget, *, status: budgets.Status, thresholds: list[int], forecast: bool) -> list[int]:
    """Insert one AlertEvent per newly crossed threshold; returns the events that carry a
    message (the highest new threshold, and the forecast alert)."""
    with transaction.atomic():
        revision = (Budget.objects.select_for_update().filter(pk=budget.pk, archived_at__isnull=True)
                    .values_list("amount_revision", flat=True).first())
        if revision is None:
            return []
        fired = budgets.fired_thresholds(budget, period_start=status.period_start)
        created = [e for t in sorted(set(thresholds) - fired)
                   if (e := _insert(budget, status, t, revision)) is not None]
        out = []
        if created:
            primary, others = created[-1], created[:-1]
            primary.other_thresholds = sorted(e.threshold for e in others)
            primary.save(update_fields=["other_thresholds"])
            AlertEvent.objects.filter(pk__in=[e.pk for e in others]).update(bundled_into=primary)
            out.append(primary.pk)
        if forecast and FORECAST not in fired and (event := _insert(budget, status, FORECAST, revision)):
            out.append(event.pk)
    return out


def pending_deliveries(*, now: datetime) -> list[int]:
    """Undelivered message-carrying events that no retry chain is working on."""
    undelivered = (Q(sent_at__isnull=True) & ~Q(recipients="")) | (
        Q(webhook_sent_at__isnull=True) & ~Q(webhook_url=""))
    events = AlertEvent.objects.filter(undelivered, bundled_into__isnull=True,
                                       fired_at__gte=now - SWEEP_MAX_AGE)
    if not settings.CELERY_TASK_ALWAYS_EAGER:  # embedded mode: nothing else is retrying
        idle = Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=now - SWEEP_AFTER)
        events = events.filter(idle, fired_at__lt=now - timedelta(minutes=2))
    return list(events.order_by("pk").values_list("pk", flat=True))


# --- delivering -----------------------------------------------------------------------


def deliver(event_id: int) -> bool:
    """Send the event's e-mail and webhook if not sent yet. Returns True if something was
    sent; raises DeliveryFailed (after recording the error) if something failed.

    Each channel is sent under the event's row lock and marked sent in the same
    transaction; the SMTP connection is opened before and closed (QUIT) after COMMIT, so
    the only window for a duplicate is the receiver's "250 OK" → UPDATE → COMMIT."""
    errors: list[str] = []
    sent = False
    message: Message | None = None
    for channel, field in (("e-mail", "sent_at"), ("webhook", "webhook_sent_at")):
        connection = None
        try:
            with transaction.atomic():
                event = (AlertEvent.objects.select_for_update(of=("self",))
                         .select_related("budget__project").filter(pk=event_id).first())
                if event is None or event.bundled_into_id:
                    return False
                target = event.recipients if channel == "e-mail" else event.webhook_url
                if not target or getattr(event, field) is not None:
                    continue
                message = message or compose(event)
                try:
                    if channel == "e-mail":
                        connection = get_connection(fail_silently=False)
                        connection.open()
                        send_email(message, recipient_list(event.recipients), connection=connection)
                    else:
                        post_webhook(event.webhook_url, message.webhook_body)
                except Exception as exc:
                    errors.append(f"{channel}: {exc.__class__.__name__}: {exc}")
                    continue
                setattr(event, field, timezone.now())
                event.save(update_fields=[field])
                event.bundled.update(**{field: getattr(event, field)})
                sent = True
        finally:
            if connection is not None:
                try:
                    connection.close()
                except Exception:  # the message is delivered and recorded; QUIT is courtesy
                    logger.info("SMTP QUIT failed after alert %s", event_id, exc_info=True)
    if sent or errors:
        AlertEvent.objects.filter(pk=event_id).update(
            attempts=F("attempts") + 1, last_attempt_at=timezone.now(), last_error="; ".join(errors))
    if errors:
        raise DeliveryFailed("; ".join(errors))
    return sent


@dataclass
class Message:
    subject: str
    text: str
    html: str
    webhook_body: dict
    message_id: str = ""


def dashboard_url(budget: Budget, *, start: date, end: date, absolute: bool = True) -> str:
    params = {"range": "custom", "start": start.isoformat(), "end": end.isoformat(),
              "ledger": budget.ledger, **budgets.scope_filters(budget)}
    path = f"{reverse('overview', args=[budget.project.slug])}?{urlencode(params)}"
    return f"{settings.SITE_URL}{path}" if absolute else path


def scope_label(budget: Budget) -> str:
    if budget.scope == "project":
        return "whole project"
    return f"{budget.get_scope_display().lower()} {budget.scope_value}"


def _chart_rows(budget: Budget, start: date, end: date) -> list[dict]:
    daily = budgets.daily_spend(budget, start=start, end=end)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)][-14:]
    top = max([daily.get(d, 0) for d in days] + [1])
    return [{"day": d, "cost": format_usd(daily.get(d, 0)), "width": round(100 * daily.get(d, 0) / top)}
            for d in days]


def compose(event: AlertEvent, *, test: bool = False) -> Message:
    budget = event.budget
    project = budget.project
    start, end = budgets.period_bounds(budget.period, event.period_start)
    last_day = min(end, clock.utc_today())
    pct = budgets.percent(event.spend_nano, event.amount_nano)
    projected_pct = budgets.percent(event.projected_nano or 0, event.amount_nano)
    forecast = event.threshold == FORECAST
    url = dashboard_url(budget, start=start, end=end)
    if test:
        headline = f"Test alert for budget “{budget.name}”: {pct} % used"
    elif forecast:
        runout = f"{event.runout_date:%a %b %-d}" if event.runout_date else "before the period ends"
        headline = f"Budget “{budget.name}” is projected to run out on {runout}"
    else:
        # the threshold this event is for is the highest the check found crossed; the
        # percent is the real one (a budget can be far past its last threshold)
        headline = f"Budget “{budget.name}” has reached {event.threshold} % ({pct:,} % used)"
    ctx = {
        "event": event, "budget": budget, "project": project, "test": test, "forecast": forecast,
        "headline": headline, "percent": pct, "projected_percent": projected_pct,
        "spend": format_usd(event.spend_nano), "amount": format_usd(event.amount_nano),
        "projected": format_usd(event.projected_nano), "period_start": start, "period_end": end,
        "scope": scope_label(budget), "url": url, "others": event.other_thresholds,
        "rows": _chart_rows(budget, start, last_day),
        "settings_url": f"{settings.SITE_URL}{reverse('budgets', args=[project.slug])}",
    }
    subject = f"[costwatch] {project.name}: {headline} ({ctx['spend']} of {ctx['amount']})"
    text = render_to_string("email/budget_alert.txt", ctx)
    html = render_to_string("email/budget_alert.html", ctx)
    body = {
        "text": f"{headline} — {ctx['spend']} of {ctx['amount']} ({pct} %) in {project.name}, "
                f"{ctx['scope']}; projected {ctx['projected']} by {end:%b %-d}. {url}",
        "type": "budget.test" if test else ("budget.forecast" if forecast else "budget.threshold"),
        "project": {"slug": project.slug, "name": project.name},
        "budget": {"id": budget.pk, "name": budget.name, "scope": budget.scope,
                   "scope_value": budget.scope_value, "period": budget.period,
                   "ledger": budget.ledger, "amount_usd": str(budget.amount_usd)},
        "alert": {"id": event.pk, "threshold": None if forecast else event.threshold,
                  "other_thresholds": event.other_thresholds,
                  "period_start": start.isoformat(), "period_end": end.isoformat(),
                  "spend_usd": decimal_string(event.spend_nano),
                  "percent_used": None if pct is None else str(pct),
                  "projected_usd": decimal_string(event.projected_nano or 0),
                  "runout_date": event.runout_date.isoformat() if event.runout_date else None,
                  "fired_at": event.fired_at.isoformat() if event.fired_at else None},
        "url": url,
    }
    message_id = "" if test else f"<alert-{event.pk}@costwatch>"
    return Message(subject=subject, text=text, html=html, webhook_body=body, message_id=message_id)


def send_email(message: Message, to: list[str], *, connection=None) -> None:
    headers = {"Message-ID": message.message_id} if message.message_id else {}
    mail = EmailMultiAlternatives(message.subject, message.text, settings.DEFAULT_FROM_EMAIL, to,
                                  headers=headers,
                                  connection=connection or get_connection(fail_silently=False))
    mail.attach_alternative(message.html, "text/html")
    mail.send()


def post_webhook(url: str, body: dict) -> None:
    """POST body as JSON. webhooks.urlopen checks the URL again, as it connects (DNS may
    have changed since the URL was saved), and follows no redirect."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "costwatch"},
    )
    with webhooks.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
        if not 200 <= response.status < 300:
            raise DeliveryFailed(f"HTTP {response.status}")


def send_test(budget: Budget, *, now: datetime) -> str:
    """Send a sample alert with the budget's current numbers now, synchronously, to its
    recipients and webhook. Returns what was sent; raises on the first failure."""
    st = budgets.status(budget, now=now)
    event = AlertEvent(budget=budget, period_start=st.period_start, threshold=max(st.crossed or [0]),
                       spend_nano=st.spend_nano, amount_nano=st.amount_nano,
                       projected_nano=st.projected_nano, runout_date=st.runout_date,
                       fired_at=now)
    message = compose(event, test=True)
    sent = []
    to = recipient_list(budget.recipients)
    if to:
        send_email(message, to)
        sent.append("e-mail to " + ", ".join(to))
    if budget.webhook_url:
        post_webhook(budget.webhook_url, message.webhook_body)
        sent.append("webhook")
    if not sent:
        raise DeliveryFailed("no recipients and no webhook: add an e-mail address first")
    return " and ".join(sent)
