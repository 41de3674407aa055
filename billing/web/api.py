from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from billing.alerts import budget_saved, recipient_list
from billing.budgets import active, archive
from billing.budgets import status as budget_status
from billing.models import DEFAULT_THRESHOLDS, AlertEvent, Budget
from billing.pricing.classes import FEE_CLASSES, RATE_CLASSES
from billing.pricing.money import decimal_string
from billing.pricing.rates import PriceBook, Rates
from billing.tasks import enqueue_deliveries
from billing.web.forms import BudgetForm, thresholds_text
from costwatch.tenant.access import key_or_session, project_for

router = Router(tags=["billing"])

# Classes every model has; the others are listed where the model prices them itself.
COMMON = ["input", "output", "cache_read", "cache_write_5m", "cache_write_1h"]


def _classes(rates: Rates) -> list[str]:
    return [c for c in RATE_CLASSES if c in COMMON or getattr(rates, c) is not None]


def _rates_json(rates: Rates) -> dict:
    def num(value):
        return None if value is None else format(value.normalize(), "f")

    classes = _classes(rates)
    standard = rates.per_class()
    out = {
        "model": rates.model,
        "provider": rates.provider,
        "effective_from": rates.effective_from.isoformat(),
        "source_url": rates.source_url,
        "unit": "USD per million tokens",
        "rates": {c: num(standard[c]) for c in classes},
        "batch_discount": num(rates.batch_discount),
        "long_context": None,
        "priority": None,
        "fast_multiplier": num(rates.fast_multiplier),
        "batch_cache_read": num(rates.batch_cache_read),
        "peak": ({"hours_utc": rates.peak_hours, "multiplier": num(rates.peak_multiplier)}
                 if rates.peak_hours else None),
        "regional_multiplier": num(rates.regional_multiplier),
        "fees_per_1000_requests": {c: num(getattr(rates, f"{c}_fee")) for c in FEE_CLASSES
                                   if getattr(rates, f"{c}_fee") is not None},
    }
    if rates.lc_input is not None:
        lc = rates.per_class(long_context=True)
        out["long_context"] = {"threshold_tokens": rates.long_context_threshold,
                               "rates": {c: num(lc[c]) for c in classes}}
    if rates.priority_input is not None:
        pr = rates.per_class(priority=True)
        out["priority"] = {"rates": {c: num(pr[c]) for c in classes}}
    return out


@router.get("/prices", auth=key_or_session, summary="Rates in force for a model")
def get_prices(request, model: str, at: str | None = None):
    """The resolved model and its rates per million tokens per class in force at `at`
    (YYYY-MM-DD or ISO 8601; default now)."""
    when: date | datetime
    if at:
        try:
            when = date.fromisoformat(at) if len(at) == 10 else datetime.fromisoformat(at)
        except ValueError as exc:
            raise HttpError(400, "at: expected YYYY-MM-DD or an ISO 8601 timestamp") from exc
    else:
        when = datetime.now(UTC)
    book = PriceBook.load()
    rates = book.rates_at(model, when)
    if rates is None:
        raise HttpError(404, f"model {model!r}: no price known; add one in the admin (Model prices)")
    return {"requested": model, **_rates_json(rates)}


# --- budgets ---------------------------------------------------------------------------


class BudgetIn(Schema):
    """Fields of a budget. On PATCH every field is optional."""

    project: str | None = Field(default=None, description="Project slug (needed with a session)")
    name: str | None = None
    scope: str | None = Field(default=None, description="project, provider, model, feature, end_user or api_key")
    scope_value: str | None = None
    period: str | None = Field(default=None, description="month (default), week (Monday UTC) or day")
    amount_usd: Decimal | None = None
    ledger: str | None = Field(default=None, description="metered (default) or billed")
    thresholds: list[int] | None = Field(default=None, description="Percent, default [50, 75, 90, 100]")
    forecast_alert: bool | None = None
    recipients: list[str] | None = None
    webhook_url: str | None = None
    is_active: bool | None = None


class AlertFiredOut(Schema):
    threshold: int | None = Field(description="Percent; null for the forecast alert")
    type: str = Field(description="threshold or forecast")
    fired_at: str
    delivered: bool
    last_error: str


class BudgetOut(Schema):
    id: int
    project: str
    name: str
    scope: str
    scope_value: str
    period: str
    amount_usd: str
    ledger: str
    thresholds: list[int]
    forecast_alert: bool
    recipients: list[str]
    webhook_url: str
    is_active: bool
    period_start: str
    period_end: str = Field(description="Last day of the current period (inclusive)")
    spend_usd: str = Field(description="Spend to date in the current period")
    percent_used: str | None
    projected_usd: str = Field(description="Projected spend at the end of the period")
    projected_percent: str | None
    runout_date: str | None = Field(description="Day the budget is (projected to be) used up")
    alerts_fired: list[AlertFiredOut] = Field(description="Alerts fired in the current period")


class BudgetListOut(Schema):
    budgets: list[BudgetOut]


def _budget_form_data(budget: Budget) -> dict:
    return {
        "name": budget.name, "scope": budget.scope, "scope_value": budget.scope_value,
        "period": budget.period, "amount_usd": str(budget.amount_usd), "ledger": budget.ledger,
        "thresholds": thresholds_text(budget.thresholds), "recipients": budget.recipients,
        "webhook_url": budget.webhook_url,
        **({"forecast_alert": "on"} if budget.forecast_alert else {}),
        **({"is_active": "on"} if budget.is_active else {}),
    }


def _apply(payload: BudgetIn, base: dict) -> dict:
    data = dict(base)
    for name, value in payload.dict(exclude_unset=True, exclude={"project"}).items():
        if name in ("forecast_alert", "is_active"):
            data.pop(name, None)
            if value:
                data[name] = "on"
        elif name == "thresholds":
            data[name] = thresholds_text(value or [])
        elif name == "recipients":
            data[name] = ", ".join(value or [])
        elif value is not None:
            data[name] = str(value)
        else:
            data[name] = ""
    return data


def _save(form: BudgetForm) -> Budget:
    if not form.is_valid():
        raise HttpError(422, "; ".join(f"{field}: {' '.join(errors).rstrip('.')}"
                                       for field, errors in form.errors.items()))
    amount_changed = form.instance.pk is not None and "amount_usd" in form.changed_data
    budget = form.save()
    enqueue_deliveries(budget_saved(budget, amount_changed=amount_changed, now=timezone.now()))
    return budget


def budget_json(budget: Budget, *, now: datetime) -> dict:
    st = budget_status(budget, now=now)
    events = budget.alerts.filter(period_start=st.period_start).order_by("fired_at", "threshold")
    return {
        "id": budget.pk, "project": budget.project.slug, "name": budget.name,
        "scope": budget.scope, "scope_value": budget.scope_value, "period": budget.period,
        "amount_usd": format(Decimal(budget.amount_usd).quantize(Decimal("0.01")), "f"), "ledger": budget.ledger,
        "thresholds": budget.thresholds, "forecast_alert": budget.forecast_alert,
        "recipients": recipient_list(budget.recipients), "webhook_url": budget.webhook_url,
        "is_active": budget.is_active,
        "period_start": st.period_start.isoformat(), "period_end": st.period_end.isoformat(),
        "spend_usd": decimal_string(st.spend_nano),
        "percent_used": None if st.percent is None else str(st.percent),
        "projected_usd": decimal_string(st.projected_nano),
        "projected_percent": None if st.projected_percent is None else str(st.projected_percent),
        "runout_date": st.runout_date.isoformat() if st.runout_date else None,
        "alerts_fired": [
            {"threshold": None if e.threshold == AlertEvent.FORECAST else e.threshold,
             "type": "forecast" if e.threshold == AlertEvent.FORECAST else "threshold",
             "fired_at": e.fired_at.isoformat(), "delivered": e.sent_at is not None or (
                 not e.recipients and e.webhook_sent_at is not None),
             "last_error": e.last_error}
            for e in events
        ],
    }


def _budget(request, budget_id: int) -> Budget:
    budget = Budget.objects.select_related("project").filter(pk=budget_id, archived_at__isnull=True).first()
    if budget is None:
        raise HttpError(404, f"budget {budget_id} not found")
    project_for(request, budget.project.slug)  # 403/404 unless the caller may see it
    return budget


@router.get("/budgets", auth=key_or_session, response=BudgetListOut,
            summary="Budgets with spend, percent used, projection")
def list_budgets(request, project: str | None = None):
    proj = project_for(request, project)
    now = timezone.now()
    return {"budgets": [budget_json(b, now=now) for b in active(proj).select_related("project")]}


@router.post("/budgets", auth=key_or_session, response={201: BudgetOut}, summary="Create a budget")
def create_budget(request, payload: BudgetIn):
    proj = project_for(request, payload.project or request.GET.get("project"))
    base = {"scope": "project", "period": "month", "ledger": "metered",
            "thresholds": thresholds_text(DEFAULT_THRESHOLDS), "forecast_alert": "on", "is_active": "on"}
    budget = _save(BudgetForm(_apply(payload, base), instance=Budget(project=proj)))
    return Status(201, budget_json(budget, now=timezone.now()))


@router.get("/budgets/{budget_id}", auth=key_or_session, response=BudgetOut, summary="One budget")
def get_budget(request, budget_id: int):
    return budget_json(_budget(request, budget_id), now=timezone.now())


@router.patch("/budgets/{budget_id}", auth=key_or_session, response=BudgetOut,
              summary="Change some fields of a budget")
def patch_budget(request, budget_id: int, payload: BudgetIn):
    budget = _budget(request, budget_id)
    budget = _save(BudgetForm(_apply(payload, _budget_form_data(budget)), instance=budget))
    return budget_json(budget, now=timezone.now())


@router.delete("/budgets/{budget_id}", auth=key_or_session, response={204: None},
               summary="Delete a budget (archived: it stops alerting, its alert history stays)")
def delete_budget(request, budget_id: int):
    archive(_budget(request, budget_id), now=timezone.now())
    return Status(204, None)
