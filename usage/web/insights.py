"""Insights pages: explain a change, what-if (thin: parse -> one domain call -> render)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from costwatch import clock
from costwatch.tenant.access import project_for_user
from costwatch.tenant.models import Project
from usage.insights import anomalies as an
from usage.insights import breakeven as be
from usage.insights import explain as ex
from usage.insights import recommend as rc
from usage.insights import whatif as wi
from usage.reports.queries import price_book
from usage.web import insights_charts
from usage.web.filters import NONE, Filters
from usage.web.insights_forms import PlanForm
from usage.web.views import _base_context, _options, _page, _render

TABS = [("insights", "Explain"), ("insights_whatif", "What-if"), ("insights_anomalies", "Anomalies"),
        ("insights_plans", "Subscriptions"), ("insights_recommendations", "Recommendations")]


def _context(request, project: Project, f: Filters, page_params: dict, tab: str) -> dict:
    return {
        **_page(request, project, _base_context(project, f, page_params)),
        **_options(project, f),
        "tabs": [{"url": reverse(name, args=[project.slug]) + (f.query() if f.params() else ""),
                  "label": label, "current": name == tab} for name, label in TABS],
    }


def filter_periods(f: Filters, today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """The page's range and the period it is compared with: a month (this month, last month)
    with the month before (the same days while it runs), any other range with as many days
    just before it."""
    month = f.range in ("month", "last_month")
    return ex.compare_periods(start=f.start, end=f.end, today=today, month=month)


def _contribution_rows(rows: list[ex.Contribution], f: Filters, dim: str) -> list[dict]:
    return [{"c": c, "filter_query": f.with_dim(dim, c.key).query()} for c in rows]


def explain_page(request, slug: str):
    project = project_for_user(request, slug)
    f = Filters.from_request(request, project)
    (start, end), (cstart, cend) = filter_periods(f, clock.utc_today())
    q = f.spend_query(project, start=start, end=end)
    result, _ = ex.explain_spend(q, compare_start=cstart, compare_end=cend)
    steps = [(ex.LABELS[name].capitalize(), result.effects[name]) for name in ex.FACTORS]
    context = {
        **_context(request, project, f, {}, "insights"),
        "result": result,
        "period": (start, end),
        "compare": (cstart, cend),
        "effects": [{"name": name, "label": ex.LABELS[name], "nano": result.effects[name]} for name in ex.FACTORS],
        "summary": ex.sentence(result, previous_label=f"{cstart:%b %-d}–{cend:%b %-d}"),
        "by_model": _contribution_rows(result.by_model, f, "model"),
        "by_feature": _contribution_rows(result.by_feature, f, "feature"),
        "fig_waterfall": insights_charts.waterfall(
            previous_nano=result.previous_nano, current_nano=result.current_nano, steps=steps,
            labels=(f"{cstart:%b %-d}–{cend:%b %-d}", f"{start:%b %-d}–{end:%b %-d}")),
    }
    return _render(request, "insights/explain.html", context)


SCENARIOS = {
    "model": "Every request on one model",
    "route": "Route features to models",
    "no_cache": "Without prompt caching",
    "no_batch": "Without the Batch API",
    "batch": "Features through the Batch API",
    "cache": "More prompt caching",
}


def whatif_page(request, slug: str):
    project = project_for_user(request, slug)
    f = Filters.from_request(request, project)
    get = request.GET
    params = {k: get.get(k, "").strip() for k in ("scenario", "to_model", "features", "route", "hit_rate")}
    params["scenario"] = params["scenario"] if params["scenario"] in SCENARIOS else "model"
    book = price_book()
    error, result = "", None
    if params["scenario"] != "model" or params["to_model"]:
        try:
            scenario = wi.parse_scenario(scenario=params["scenario"], model=params["to_model"],
                                         features=params["features"], route=params["route"],
                                         hit_rate=params["hit_rate"], resolve=book.resolve)
            result, _ = wi.whatif(f.spend_query(project), scenario)
        except wi.ScenarioError as exc:
            error = str(exc).replace("model:", "To model:", 1)
    page_params = {k: v or None for k, v in params.items()}
    context = {
        **_context(request, project, f, page_params, "insights_whatif"),
        "scenarios": SCENARIOS,
        "params": params,
        "priced_models": wi.priced_models(),
        "error": error,
        "result": result,
        "features_seen": [r.feature for r in result.by("feature")] if result else [],
        "api_query": _api_query(project, f, params),
    }
    if result is not None:
        context["by_feature"] = [{"name": r.feature, "actual_nano": r.actual_nano, "whatif_nano": r.whatif_nano}
                                 for r in result.by("feature")]
        context["by_model"] = result.by("model")
        context["fig_whatif"] = insights_charts.actual_vs_whatif(context["by_feature"])
    return _render(request, "insights/whatif.html", context)


def _api_query(project: Project, f: Filters, params: dict) -> str:
    q = {"project": project.slug, "start": f.start.isoformat(), "end": f.end.isoformat(),
         "scenario": params["scenario"]}
    if params["to_model"]:
        q["model"] = params["to_model"]
    for k in ("features", "route", "hit_rate"):
        if params[k]:
            q[k] = params[k]
    q.update({k: v for k, v in f.dims.items() if k != "model"})
    return "?" + urlencode(q)


def anomalies_page(request, slug: str):
    project = project_for_user(request, slug)
    f = Filters.from_request(request, project)
    found, ledger = an.anomalies(project, start=f.start, end=f.end, ledger=f.ledger)
    series, first_day = an.project_series(project, start=f.start, end=f.end, ledger=ledger)
    days = [{"day": d, "cost_nano": series.get(d, 0)} for d in
            (f.start + timedelta(days=i) for i in range(f.days))]
    baseline = an.baseline_medians(series, start=f.start, end=f.end, first_day=first_day) if first_day else {}
    records = reverse("records", args=[project.slug])
    rows = []
    for a in found:
        day_filters = f.with_dim("model", None).with_dim("feature", None)
        if a.scope != "project":
            day_filters = day_filters.with_dim(a.scope, a.value)
        rows.append({"a": a, "records_url": records + day_filters.query(day=a.day.isoformat())})
    context = {
        **_context(request, project, f, {}, "insights_anomalies"),
        "rows": rows,
        "min_excess_nano": an.MIN_EXCESS_NANO,
        "fig_anomalies": insights_charts.anomaly_series(days, [a for a in found if a.scope == "project"], baseline),
        "none": NONE,
    }
    return _render(request, "insights/anomalies.html", context)


@require_http_methods(["GET", "POST"])
def plans_page(request, slug: str):
    project = project_for_user(request, slug)
    forms_by_pk, new_form = {}, PlanForm(prefix="new")
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "examples":
            be.add_examples(project, features=be.claude_code_features(project))
            messages.success(request, "Example plans added: edit their prices and allowances to your terms.")
            return redirect("insights_plans", slug=slug)
        if action == "delete":
            plan = get_object_or_404(project.plans, pk=request.POST.get("pk"))
            plan.delete()
            messages.success(request, f"Plan {plan.name} deleted.")
            return redirect("insights_plans", slug=slug)
        if action == "save":
            plan = get_object_or_404(project.plans, pk=request.POST.get("pk"))
            form = PlanForm(request.POST, instance=plan, prefix=f"p{plan.pk}")
            if form.is_valid():
                form.save()
                messages.success(request, f"Plan {plan.name} saved.")
                return redirect("insights_plans", slug=slug)
            forms_by_pk[plan.pk] = form
        if action == "add":
            new_form = PlanForm(request.POST, prefix="new")
            if new_form.is_valid():
                plan = new_form.save(commit=False)
                plan.project = project
                plan.save()
                messages.success(request, f"Plan {plan.name} added.")
                return redirect("insights_plans", slug=slug)
    f = Filters.from_request(request, project)
    verdicts, weeks, per_plan = be.breakeven(project, today=clock.utc_today())
    rows = [{"v": v, "form": forms_by_pk.get(v.plan.pk) or PlanForm(instance=v.plan, prefix=f"p{v.plan.pk}"),
             "weeks": per_plan[v.plan.pk]} for v in verdicts]
    units = sorted({v.unit for v in verdicts})
    context = {
        **_context(request, project, f, {}, "insights_plans"),
        "rows": rows,
        "weeks": weeks,
        "new_form": new_form,
        "charts": [{"unit": u, "id": f"fig-breakeven-{u}", "fig": insights_charts.breakeven(verdicts, unit=u)}
                   for u in units],
    }
    return _render(request, "insights/plans.html", context)


def recommendations_page(request, slug: str):
    project = project_for_user(request, slug)
    f = Filters.from_request(request, project)
    found, _ = rc.recommend(f.spend_query(project), timezone=project.timezone)
    whatif = reverse("insights_whatif", args=[project.slug])
    rows = [{"r": r, "pct": float(r.saving_pct), "evidence": whatif + f.query(**r.params)} for r in found]
    context = {**_context(request, project, f, {}, "insights_recommendations"), "rows": rows}
    return _render(request, "insights/recommendations.html", context)
