from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from billing import alerts, budgets, tasks
from billing.models import DEFAULT_THRESHOLDS, AlertEvent, Budget
from billing.pricing.models import ModelPrice, PriceChange
from billing.pricing.money import format_usd
from billing.web.forms import BudgetForm, DigestForm
from costwatch import clock
from costwatch.tenant.access import project_for_user
from costwatch.tenant.models import Project
from usage.models import UsageRecord
from usage.reports.queries import default_ledger

PAGE = "billing/budgets.html"
HISTORY = 50


def _row(budget: Budget, now) -> dict:
    st = budgets.status(budget, now=now)
    fired = budgets.fired_thresholds(budget, period_start=st.period_start)
    pct = st.percent or 0
    chips = [{"value": t, "on": t in budget.thresholds, "fired": t in fired}
             for t in sorted(set(DEFAULT_THRESHOLDS) | set(budget.thresholds))]
    level = "over" if pct >= 100 else "warn" if pct >= 90 else "ok"
    return {
        "budget": budget, "status": st, "chips": chips, "level": level,
        "fill": min(pct, 100), "projected_fill": min(st.projected_percent or 0, 100),
        "forecast_fired": AlertEvent.FORECAST in fired,
        "spend": format_usd(st.spend_nano), "amount": format_usd(st.amount_nano),
        "projected": format_usd(st.projected_nano), "scope": alerts.scope_label(budget),
        "no_spend_in_scope": budget.scope != "project" and st.spend_nano == 0 and st.rate_nano == 0,
        "url": alerts.dashboard_url(budget, start=st.period_start, end=st.period_end,
                                    absolute=False),
    }


def _delivery(event: AlertEvent) -> dict:
    source = event.bundled_into or event
    if not source.recipients and not source.webhook_url:
        return {"state": "none", "label": "no recipients"}
    mail_ok = not source.recipients or source.sent_at
    hook_ok = not source.webhook_url or source.webhook_sent_at
    if mail_ok and hook_ok:
        when = max(t for t in (source.sent_at, source.webhook_sent_at) if t)
        return {"state": "sent", "label": "delivered", "when": when}
    if source.last_error:
        return {"state": "failing", "label": f"failing after {source.attempts} attempt"
                f"{'s' if source.attempts != 1 else ''}", "error": source.last_error}
    return {"state": "pending", "label": "sending"}


def _history(project: Project) -> list[dict]:
    events = (AlertEvent.objects.filter(budget__project=project)
              .select_related("budget", "bundled_into").order_by("-pk")[:HISTORY])
    return [{"event": e, "delivery": _delivery(e), "spend": format_usd(e.spend_nano),
             "amount": format_usd(e.amount_nano)} for e in events]


def _context(request, project: Project, **extra) -> dict:
    now = timezone.now()
    return {
        "project": project,
        "rows": [_row(b, now) for b in budgets.active(project)],
        "history": _history(project),
        "digest_form": DigestForm(instance=project),
        "suggestions": budgets.scope_suggestions(project, today=clock.utc_today(now)),
        **extra,
    }


def _suggestions(project: Project) -> list[tuple[str, str]]:
    return budgets.scope_suggestions(project, today=clock.utc_today())


def _new_form(project: Project) -> BudgetForm:
    today = clock.utc_today()
    start, _ = budgets.period_bounds("month", today)
    return BudgetForm(initial={"ledger": default_ledger(project, start, today), "forecast_alert": True,
                               "name": "Monthly budget"})


def _edit_form(budget: Budget, data=None) -> BudgetForm:
    return BudgetForm(data, instance=budget, auto_id=f"id_b{budget.pk}_%s")


def _partial(request, name: str) -> str:
    if request.htmx and not request.htmx.history_restore_request:
        return f"{PAGE}#{name}"
    return PAGE


def budget_list(request, slug: str):
    """The settings page; POST creates a budget."""
    project = project_for_user(request, slug)
    if request.method == "POST":
        form = BudgetForm(request.POST, instance=Budget(project=project))
        if not form.is_valid():
            if request.htmx:
                return render(request, f"{PAGE}#budget-form",
                              {"project": project, "form": form, "suggestions": _suggestions(project)})
            return render(request, PAGE, _context(request, project, form=form), status=422)
        budget = form.save()
        tasks.enqueue_deliveries(alerts.budget_saved(budget, amount_changed=False, now=timezone.now()))
        if not request.htmx:
            messages.success(request, f"Budget “{budget.name}” created.")
            return redirect("budgets", slug=slug)
        response = render(request, f"{PAGE}#budgets", _context(request, project))
        return reswap(retarget(response, "#budgets"), "outerHTML")
    edit = request.GET.get("edit")
    ctx = _context(request, project)
    if request.GET.get("new"):
        ctx["form"] = _new_form(project)
    if edit and edit.isdigit():
        ctx["editing"] = int(edit)
        budget = get_object_or_404(budgets.active(project), pk=edit)
        ctx["edit_form"] = _edit_form(budget)
    return render(request, _partial(request, "budgets"), ctx)


@require_GET
def budget_new(request, slug: str):
    project = project_for_user(request, slug)
    if not request.htmx:
        return redirect(f"{request.path.rsplit('new/', 1)[0]}?new=1")
    return render(request, f"{PAGE}#budget-form", {"project": project, "form": _new_form(project),
                                                  "suggestions": _suggestions(project)})


def budget_card(request, slug: str, pk: int):
    """One budget: its card (GET), or its edit form and save (edit=1 / POST)."""
    project = project_for_user(request, slug)
    budget = get_object_or_404(budgets.active(project), pk=pk)
    if request.method == "POST":
        form = _edit_form(budget, request.POST)
        if form.is_valid():
            form.save()
            tasks.enqueue_deliveries(alerts.budget_saved(
                budget, amount_changed="amount_usd" in form.changed_data, now=timezone.now()))
            if not request.htmx:
                messages.success(request, f"Budget “{budget.name}” saved.")
                return redirect("budgets", slug=slug)
            return render(request, f"{PAGE}#card", {"project": project, "row": _row(budget, timezone.now())})
        if not request.htmx:
            return render(request, PAGE, _context(request, project, editing=budget.pk, edit_form=form),
                          status=422)
        return render(request, f"{PAGE}#edit-form", {"project": project, "budget": budget, "edit_form": form,
                                                     "suggestions": _suggestions(project)})
    if not request.htmx:
        suffix = f"?edit={pk}" if request.GET.get("edit") else ""
        return redirect(f"/p/{slug}/budgets/{suffix}")
    if request.GET.get("edit"):
        return render(request, f"{PAGE}#edit-form",
                      {"project": project, "budget": budget, "edit_form": _edit_form(budget),
                       "suggestions": _suggestions(project)})
    return render(request, f"{PAGE}#card", {"project": project, "row": _row(budget, timezone.now())})


@require_POST
def budget_delete(request, slug: str, pk: int):
    project = project_for_user(request, slug)
    budget = get_object_or_404(budgets.active(project), pk=pk)
    budgets.archive(budget, now=timezone.now())
    if not request.htmx:
        messages.success(request, f"Budget “{budget.name}” deleted; its alert history is kept.")
        return redirect("budgets", slug=slug)
    response = render(request, f"{PAGE}#budgets", _context(request, project))
    return reswap(retarget(response, "#budgets"), "outerHTML")


@require_POST
def budget_threshold(request, slug: str, pk: int):
    """Toggle one threshold on or off."""
    project = project_for_user(request, slug)
    budget = get_object_or_404(budgets.active(project), pk=pk)
    value = request.POST.get("threshold", "")
    if value.isdigit() and 1 <= int(value) <= 1000:
        current = set(budget.thresholds)
        current ^= {int(value)}
        budget.thresholds = sorted(current)
        budget.save(update_fields=["thresholds"])
    if not request.htmx:
        return redirect("budgets", slug=slug)
    return render(request, f"{PAGE}#card", {"project": project, "row": _row(budget, timezone.now())})


@require_POST
def budget_test(request, slug: str, pk: int):
    """Send a test alert now, synchronously, and say what happened."""
    project = project_for_user(request, slug)
    budget = get_object_or_404(budgets.active(project).select_related("project"), pk=pk)
    try:
        result = {"ok": True, "text": f"Test sent: {alerts.send_test(budget, now=timezone.now())}."}
    except Exception as exc:
        result = {"ok": False, "text": f"Test failed: {exc}"}
    if not request.htmx:
        (messages.success if result["ok"] else messages.error)(request, result["text"])
        return redirect("budgets", slug=slug)
    return render(request, f"{PAGE}#test-result", {"result": result})


@require_POST
def digest_settings(request, slug: str):
    project = project_for_user(request, slug)
    form = DigestForm(request.POST, instance=project)
    saved = form.is_valid()
    if saved:
        form.save()
    if not request.htmx:
        if saved:
            messages.success(request, "Weekly digest settings saved.")
            return redirect("budgets", slug=slug)
        return render(request, PAGE, _context(request, project, digest_form=form), status=422)
    return render(request, f"{PAGE}#digest", {"project": project, "digest_form": form, "saved": saved})


# (rate fields, label): a cache-write column shows the model's own class, Anthropic's or OpenAI's.
RATE_COLUMNS = [(("input",), "Input"), (("output",), "Output"), (("cache_read",), "Cache read"),
                (("cache_write_5m", "cache_write_30m"), "Cache write 5m / 30m"),
                (("cache_write_1h", "cache_write_12h"), "Cache write 1h / 12h")]


def _rate(price: ModelPrice, fields: tuple[str, ...]):
    return next((getattr(price, f) for f in fields if getattr(price, f) is not None), None)
AUDIT = 100


@require_GET
def prices(request, slug: str):
    """Every model with its rates in force, its earlier rows, the unpriced models this
    project sent, and the sync audit. Read-only; staff get links to the admin."""
    project = project_for_user(request, slug)
    today = clock.utc_today()
    models: dict[str, dict] = {}
    for price in ModelPrice.objects.order_by("model", "effective_from"):
        entry = models.setdefault(price.model, {"rows": [], "current": None, "next": None})
        if price.effective_from <= today:
            entry["current"] = price
        elif entry["next"] is None:
            entry["next"] = price
        entry["rows"].append(price)
    rows = [{"model": m, **e, "history": len(e["rows"]) - 1,
             "rates": [_rate(e["current"], f) for f, _ in RATE_COLUMNS] if e["current"] else []}
            for m, e in sorted(models.items(), key=lambda kv: ((kv[1]["current"] or kv[1]["rows"][0]).provider, kv[0]))]
    unpriced = list(UsageRecord.objects.filter(project=project, cost_nano__isnull=True)
                    .exclude(metadata__has_key="cost_only").values("model").annotate(records=Count("id"))
                    .order_by("-records", "model")[:50])
    return render(request, "billing/prices.html", {
        "project": project, "rows": rows, "columns": [label for _, label in RATE_COLUMNS],
        "unpriced": unpriced, "audit": PriceChange.objects.all()[:AUDIT], "today": today,
        "staff": request.user.is_staff,
    })
