"""The monthly report page: one UTC month, shareable by its URL and made for printing."""

from __future__ import annotations

from datetime import date, timedelta

from django.shortcuts import render
from django.urls import reverse

from costwatch import clock
from costwatch.tenant.access import project_for_user
from usage.reports.forecast import period_bounds
from usage.reports.monthly import month_report, previous_month
from usage.reports.queries import SpendQuery, default_ledger, directory_names, named, ranked
from usage.web import charts
from usage.web.filters import DIMENSIONS, LEDGERS


def _month(value: str, today: date) -> date:
    """`2026-11` -> Nov 1, 2026; anything else (or a future month): this month."""
    try:
        first = date.fromisoformat(f"{value}-01")
    except ValueError:
        return today.replace(day=1)
    return min(first, today.replace(day=1))


def report(request, slug: str):
    project = project_for_user(request, slug)
    today = clock.utc_today()
    first = _month(request.GET.get("month", ""), today)
    start, last = period_bounds("month", first)
    end = min(last, today)
    ledger = request.GET.get("ledger", "")
    given = ledger in LEDGERS
    ledger = ledger if given else default_ledger(project, start, end)
    q = SpendQuery(project=project, start=start, end=end, ledger=ledger)
    figures = month_report(q, today=today)
    base = reverse("report", args=[slug])
    suffix = f"&ledger={ledger}" if given else ""
    following = last + timedelta(days=1)
    names = directory_names(project)
    by_feature = ranked(SpendQuery(project=project, start=start, end=end, ledger=ledger, group_by=["feature"]),
                        limit=10, cost_only=True)
    return render(request, "usage/report.html", {
        **figures,
        "project": project,
        "month": first,
        "start": start,
        "end": end,
        "complete": end == last,
        "ledger": ledger,
        "dimensions": DIMENSIONS,
        "names": names,
        "prev_url": f"{base}?month={previous_month(first):%Y-%m}{suffix}",
        "next_url": f"{base}?month={following:%Y-%m}{suffix}" if last < today else None,
        "overview_url": reverse("overview", args=[slug]) + f"?range=custom&start={start}&end={end}&ledger={ledger}",
        "fig_daily": charts.stacked_daily(figures["range_rows"], key="model", start=start, end=end),
        "fig_features": charts.ranked_bars(named(by_feature, "feature", names), key="feature"),
        "month_figures": figures["month"] if first == today.replace(day=1) else None,
    })
