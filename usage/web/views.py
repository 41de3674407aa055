from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods

from billing import budgets
from costwatch import clock
from costwatch.tenant.access import project_for_user, projects_for
from costwatch.tenant.keys import create_key, revoke_key
from costwatch.tenant.models import Project
from usage.billed import learn
from usage.insights.anomalies import anomalies
from usage.insights.explain import month_why
from usage.models import DailyModelUsage, DimensionUsage, DirectoryEntry, UsageRecord
from usage.reports import reconcile as rec
from usage.reports.hourly import hourly
from usage.reports.overview import overview as overview_figures
from usage.reports.overview import token_rows
from usage.reports.queries import (
    COARSE,
    GRANULARITIES,
    by_day,
    by_period,
    class_costs,
    daily_cost,
    derived,
    directory_names,
    grouped,
    known_values,
    match,
    named,
    ranked,
    ranked_page,
    total_of,
    with_shares,
)
from usage.retention import raw_horizon
from usage.web import charts, exports, pagecache
from usage.web.filters import DIMENSIONS, LEDGERS, NONE, RANGES, Filters
from usage.web.insights_charts import mark_anomalies

SORTS = {
    "name": None,
    "spend": "cost_nano",
    "share": "cost_nano",
    "requests": "requests",
    "input": "input_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_write_tokens",
    "output": "output_tokens",
    "avg": "avg_cost_nano",
    "hit": "cache_hit_rate",
}
TABLE_ROWS = 50
RECORDS_PER_PAGE = 50
RECORDS_COUNT_CAP = 10_000


def home(request):
    projects = projects_for(request.user)
    if len(projects) == 1:
        return redirect("overview", slug=projects[0].slug)
    return render(request, "usage/home.html", {"projects": projects})


def _choice(value: str | None, options, default: str) -> str:
    return value if value in options else default


def _template(request, template: str, partials: tuple[str, ...] = ()) -> str:
    """The full page, or for an HTMX request the partial its target names ("page" else)."""
    if request.htmx and not request.htmx.history_restore_request:
        target = (request.htmx.target or "").replace("-", "_")
        template = f"{template}#{target if target in partials else 'page'}"
    return template


def _render(request, template: str, context: dict, partials: tuple[str, ...] = ()):
    return render(request, _template(request, template, partials), context)


def _page(request, project: Project, data: dict) -> dict:
    """A page's context: its (cached) data and what depends on the request itself."""
    return {**data, "project": project, "api_base": request.build_absolute_uri("/").rstrip("/")}


def _base_context(project: Project, f: Filters, page_params: dict,
                  partial_params: tuple[str, ...] = ()) -> dict:
    has_any = DailyModelUsage.objects.filter(project=project).exists()
    return {
        "f": f,
        "page_params": page_params,
        # parameters a partial carries itself (as form="filters" inputs) stay out of the form
        "form_params": {k: v for k, v in page_params.items() if k not in partial_params},
        "ranges": RANGES,
        "ledgers": LEDGERS,
        "granularities": GRANULARITIES,
        "text_filters": [("feature", "Feature"), ("user", "User"), ("api_key", "Key")],
        "dimensions": DIMENSIONS,
        "chips": f.chips(**page_params),
        "has_any_data": has_any,
        "upload_url": reverse("imports", args=[project.slug]),
        "export_params": f.query(**page_params),
        "nav_query": f.query() if f.params() else "",
    }


def _stack_rows(project: Project, f: Filters, key: str, days: list[dict],
                leaders: list | None = None, top: int = 8) -> list[dict]:
    """(day, key, cost) rows for a stacked chart: the top series plus "other"."""
    if leaders is None:
        leaders = [r[key] for r in ranked(f.spend_query(project, group_by=[key]), limit=top,
                                          cost_only=True)]
    rows = daily_cost(f.spend_query(project), key=key, values=leaders) if leaders else []
    stacked: dict = {}
    for row in rows:
        stacked[row["day"]] = stacked.get(row["day"], 0) + row["cost_nano"]
    for day in days:
        rest = day["cost_nano"] - stacked.get(day["day"], 0)
        if rest > 0:
            rows.append({"day": day["day"], key: "other", "cost_nano": rest})
    return named(rows, key, directory_names(project))


def _options(project: Project, f: Filters) -> dict:
    """Provider, model and workspace choices for the filter bar (from the rollups), and the
    directory's names for ids."""
    pairs = (
        DailyModelUsage.objects.filter(project=project, day__gte=f.start - timedelta(days=90),
                                       day__lte=f.end)
        .values_list("provider", "model").distinct()
    )
    providers, models = set(), set()
    for provider, model in pairs:
        providers.add(provider)
        models.add(model)
    providers.discard("")
    if f.dims.get("provider"):
        providers.add(f.dims["provider"])
    if f.dims.get("model"):
        models.add(f.dims["model"])
    names = directory_names(project)
    workspaces = set(
        DimensionUsage.objects.filter(project=project, dimension="workspace", span=1,
                                      day__gte=f.start - timedelta(days=90), day__lte=f.end)
        .values_list("value", flat=True).distinct()
    )
    if "workspace" in f.dims:
        workspaces.add(f.dims["workspace"])
    ws_names = names[DirectoryEntry.WORKSPACE]
    choices = sorted(((w or NONE, ws_names.get(w, w)) for w in workspaces), key=lambda c: c[1].lower())
    known = {dim: known_values(project, ledger=f.ledger, dimension=dim, start=f.start, end=f.end)
             for dim in ("feature", "user", "api_key")}
    return {"providers": sorted(providers), "models": sorted(models), "names": names,
            "workspaces": choices if len(choices) > 1 or "workspace" in f.dims else [],
            "known": known,
            "datalists": {dim: datalist_options(values, names.get(dim) or {}) for dim, values in known.items()}}


def datalist_options(values: list[str], names_of: dict[str, str]) -> SafeString:
    """The <option>s of a filter's datalist: every value the dimension took, labelled with
    its directory name (thousands of end users: one join, not a template loop per value)."""
    out = []
    for value in values:
        name = names_of.get(value)
        out.append(f'<option value="{html.escape(value)}" label="{html.escape(name)}"></option>' if name
                   else f'<option value="{html.escape(value)}"></option>')
    return SafeString("".join(out))


def _cached_page(request, slug: str, page: str, compute, partials: tuple[str, ...] = ()):
    """A page whose data compute(request, project, today) makes from the rollups, rendered
    from template usage/<page>.html and kept in the page cache (usage.web.pagecache) after
    the access check."""
    project = project_for_user(request, slug)
    today = clock.utc_today()
    template = _template(request, f"usage/{page}.html", partials)

    def render_page(extra: dict) -> str:
        context = {**_page(request, project, compute(request, project, today)), **extra}
        return render_to_string(template, context, request)

    return HttpResponse(pagecache.page_html(request, project, page, today, template, render_page))


def overview(request, slug: str):
    return _cached_page(request, slug, "overview", _overview_data, partials=("daily_card",))


def _overview_data(request, project: Project, today: date) -> dict:
    f = Filters.from_request(request, project, today=today)
    stack = _choice(request.GET.get("stack"), DIMENSIONS, "model")
    figures = overview_figures(f.spend_query(project), today=today)
    # The budget card shows the budget's own status: the figures of the Budgets page.
    budget = budgets.overview_budget(project)
    status = budgets.status(budget) if budget is not None else None
    budget_nano = status.amount_nano if status else None
    page_params = {"stack": stack if stack != "model" else None}
    for key, rows in figures["top"].items():
        for row in rows:
            row["filter_query"] = f.with_dim(key, row[key] or "").query(**page_params)
    month = figures["month"]
    context = {
        **_base_context(project, f, page_params, partial_params=("stack",)),
        **_options(project, f),
        **figures,
        "stack": stack,
        "why": month_why(project, ledger=f.ledger, dims=f.dims, month=figures["month"]),
        "why_url": reverse("insights", args=[project.slug]) + f.query(range="month"),
        "budget": budget,
        "budget_nano": budget_nano,
        "budget_used": status.percent / 100 if status and status.percent is not None else None,
        "budget_status": status,
        "stack_links": {k: f.query(stack=k if k != "model" else None) for k in DIMENSIONS},
        "drill_base": reverse("records", args=[project.slug]) + f.query(),
        "fig_daily": charts.stacked_daily(
            figures["range_rows"] if stack in COARSE else _stack_rows(project, f, stack, figures["days"]),
            key=stack, start=f.start, end=f.end, granularity=f.granularity,
        ),
        "fig_month": charts.cumulative_vs_budget(
            [{"day": d, "cost_nano": v} for d, v in sorted(figures["daily_nano"].items())],
            month_start=month["month_start"], month_end=month["month_end"], today=today,
            budget_nano=budget_nano, projected_nano=month["projected_nano"],
        ),
    }
    if not f.dims and f.granularity == "day":
        marks, _ = anomalies(project, start=f.start, end=f.end, ledger=f.ledger, scopes=("project",))
        mark_anomalies(context["fig_daily"], marks)
    return context


def _next_dimension(f: Filters, current: str) -> str:
    """After filtering by a row, show the next dimension that is not filtered yet."""
    order = ["model", "feature", "user", "api_key", "workspace", "provider"]
    start = order.index(current)
    for name in order[start + 1:] + order[:start]:
        if name not in f.dims:
            return name
    return current


def breakdown_rows(project: Project, f: Filters, by: str, sort: str, desc: bool) -> list[dict]:
    rows = with_shares(ranked(f.spend_query(project, group_by=[by])))
    if sort != "name":
        column = SORTS[sort]
        none_last = [r for r in rows if r[column] is None]
        rows = sorted((r for r in rows if r[column] is not None),
                      key=lambda r: r[column], reverse=desc) + none_last
    else:
        rows.sort(key=lambda r: str(r[by]).lower(), reverse=desc)
    return rows


def breakdown(request, slug: str):
    return _cached_page(request, slug, "breakdown", _breakdown_data, partials=("table_card",))


def _breakdown_data(request, project: Project, today: date) -> dict:
    f = Filters.from_request(request, project, today=today)
    by = _choice(request.GET.get("by"), DIMENSIONS, "model")
    sort = _choice(request.GET.get("sort"), SORTS, "spend")
    desc = request.GET.get("dir", "desc" if sort != "name" else "asc") != "asc"
    show_all = request.GET.get("all") == "1"
    if show_all:
        rows = breakdown_rows(project, f, by, sort, desc)
        total, row_count = total_of(rows), len(rows)
    else:
        rows, total, row_count = ranked_page(f.spend_query(project, group_by=[by]), sort=sort,
                                             desc=desc, limit=TABLE_ROWS)
    total = derived(total)
    by_spend = (sorted(rows, key=lambda r: -r["cost_nano"]) if show_all or row_count <= len(rows)
                or (sort in ("spend", "share") and desc)
                else ranked(f.spend_query(project, group_by=[by]), limit=15, cost_only=True))
    days = by_day(grouped(f.spend_query(project, group_by=["day"])), f.start, f.end)
    chart_rows = _stack_rows(project, f, by, days, leaders=[r[by] for r in by_spend[:8]])

    page_params = {"by": by if by != "model" else None,
                   "sort": sort if sort != "spend" else None,
                   "dir": None if desc == (sort != "name") else ("desc" if desc else "asc")}
    shown = rows
    next_by = _next_dimension(f.with_dim(by, "x"), by)
    for row in shown:
        value = "" if row[by] is None else str(row[by])
        row["filter_query"] = f.with_dim(by, value).query(by=next_by if next_by != "model" else None)
        row["records_query"] = f.with_dim(by, value).query()
    sort_links = {}
    for name in SORTS:
        default_desc = name != "name"
        new_desc = (not desc) if name == sort else default_desc
        sort_links[name] = {
            "query": f.query(**{**page_params, "sort": name if name != "spend" else None,
                                "dir": None if new_desc == default_desc else ("desc" if new_desc else "asc")}),
            "active": name == sort,
            "desc": desc,
        }
    context = {
        **_base_context(project, f, page_params, partial_params=("sort", "dir")),
        **_options(project, f),
        "by": by,
        "by_label": DIMENSIONS[by],
        "by_links": {k: f.query(by=k if k != "model" else None) for k in DIMENSIONS},
        "sort": sort,
        "desc": desc,
        "sort_links": sort_links,
        "columns": [("name", DIMENSIONS[by], False), ("spend", "Spend", True), ("share", "Share", True),
                    ("requests", "Requests", True), ("input", "Input", True),
                    ("cache_read", "Cache read", True), ("cache_write", "Cache write", True),
                    ("output", "Output", True), ("avg", "Avg / request", True),
                    ("hit", "Hit rate", True)],
        "rows": shown,
        "row_count": row_count,
        "more_query": f.query(**page_params, all="1") if row_count > len(rows) else None,
        "total": total,
        "fig_daily": charts.stacked_daily(chart_rows, key=by, start=f.start, end=f.end,
                                          granularity=f.granularity),
        "fig_ranked": charts.ranked_bars(named(by_spend, by, directory_names(project)), key=by),
    }
    return context


def tokens(request, slug: str):
    return _cached_page(request, slug, "tokens", _tokens_data)


def _tokens_data(request, project: Project, today: date) -> dict:
    f = Filters.from_request(request, project, today=today)
    rows = grouped(f.spend_query(project, group_by=["day", "model"]))
    days = [derived(d) for d in by_period(rows, f.start, f.end, f.granularity)]
    total = derived(total_of(rows))
    classes = class_costs(rows)
    features = with_shares(ranked(f.spend_query(project, group_by=["feature"])))
    for row in features:
        row["filter_query"] = f.with_dim("feature", row["feature"] or "").query()
    with_hits = sorted((r for r in features if r["cache_hit_rate"] is not None),
                       key=lambda r: -r["prompt_tokens"])
    context = {
        **_base_context(project, f, {}),
        **_options(project, f),
        "total": total,
        "classes": classes,
        "token_rows": token_rows(total, classes),
        "features": features[:TABLE_ROWS],
        "gross_cache_savings": total["cache_savings_nano"] + classes["write_premium"],
        "fig_tokens": charts.tokens_by_class(days, f.granularity),
        "fig_hit": charts.hit_rate_daily(days, f.granularity),
        "fig_savings": charts.savings_daily(days, f.granularity),
        "fig_feature_hit": charts.ranked_bars(with_hits, key="feature", value="cache_hit_rate",
                                              percent=True),
    }
    return context


RECONCILE_DIMS = ("provider", "model")
FLAGGED_ROWS = 100


def _reconcile_inputs(request, project: Project, today: date | None = None) -> tuple[Filters, str, rec.Reconciliation]:
    """Both ledgers side by side: only the range, provider and model filters apply."""
    f = Filters.from_request(request, project, today=today)
    f = replace(f, ledger_given=False, dims={k: v for k, v in f.dims.items() if k in RECONCILE_DIMS})
    tol = _choice(request.GET.get("tol"), rec.TOLERANCES, rec.DEFAULT_TOLERANCE)
    result = rec.reconcile(project, start=f.start, end=f.end, provider=f.dims.get("provider"),
                           model=f.dims.get("model"), tolerance_bp=rec.TOLERANCES[tol])
    return f, tol, result


def reconcile_page(request, slug: str):
    return _cached_page(request, slug, "reconcile", _reconcile_data)


def _reconcile_data(request, project: Project, today: date) -> dict:
    f, tol, result = _reconcile_inputs(request, project, today)
    page_params = {"tol": tol if tol != rec.DEFAULT_TOLERANCE else None}
    flagged = sorted(result.flagged, key=lambda c: (-abs(c.diff_nano), c.day, c.model))
    rows = []
    for cell in flagged[:FLAGGED_ROWS]:
        cell_filters = f.with_dim("model", cell.model)
        rows.append({
            "cell": cell,
            "metered_query": cell_filters.query(ledger="metered", day=cell.day.isoformat()),
            "billed_query": cell_filters.query(ledger="billed", day=cell.day.isoformat()),
        })
    for group in result.models:
        group.filter_query = f.with_dim("provider", group.provider).with_dim("model", group.model).query(**page_params)
    context = {
        **_base_context(project, f, page_params, partial_params=("tol",)),
        **_options(project, f),
        "reconcile": True,
        "result": result,
        "flagged_rows": rows,
        "flagged_count": len(flagged),
        "tol": tol,
        "tol_links": {name: f.query(tol=name if name != rec.DEFAULT_TOLERANCE else None)
                      for name in rec.TOLERANCES},
        "fig_reconcile": charts.reconcile_daily(result.days),
    }
    return context


def records_queryset(project: Project, f: Filters, request):
    qs = UsageRecord.objects.filter(project=project, ledger=f.ledger)
    day = request.GET.get("day", "")
    try:
        one_day = date.fromisoformat(day) if day else None
    except ValueError:
        one_day = None
    qs = qs.filter(day=one_day) if one_day else qs.filter(day__gte=f.start, day__lte=f.end)
    for name, value in f.dims.items():
        if name == "model":
            # rollups group by the priced (canonical) model name
            qs = qs.filter(Q(priced_model=value) | Q(priced_model="", model=value))
        else:
            qs = qs.filter(match({"user": "end_user"}.get(name, name), value))
    if request.GET.get("unpriced") == "1":
        qs = qs.filter(cost_nano__isnull=True)
    return qs.order_by("-day", "-timestamp", "-id"), one_day


def records(request, slug: str):
    """The raw records, read live (an ingest shows before its rollup); the rendered page is
    cached only while no record of its range waits for a rollup (pagecache.settled_generation)."""
    project = project_for_user(request, slug)
    today = clock.utc_today()
    f = Filters.from_request(request, project, today=today)
    qs, one_day = records_queryset(project, f, request)
    template = _template(request, "usage/records.html")

    def render_page(extra: dict) -> str:
        return render_to_string(template, {**_records_context(request, project, f, today, qs, one_day), **extra},
                                request)

    settled = (pagecache.settled_generation(project, ledger=f.ledger, start=one_day or f.start, end=one_day or f.end)
               if settings.PAGE_CACHE_SECONDS > 0 else None)
    if settled is None:
        return HttpResponse(render_page({}))
    return HttpResponse(pagecache.page_html(request, project, "records", today, template, render_page,
                                            variant=("settled", settled, raw_horizon())))


def _records_context(request, project: Project, f: Filters, today: date, qs, one_day: date | None) -> dict:
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    offset = (number - 1) * RECORDS_PER_PAGE
    batch, has_next, has_prev = _records_page(qs, request.GET, offset)
    # the filter's count (bounded: no COUNT(*) over millions) and its sum, from the rollups
    record_count = qs.order_by()[:RECORDS_COUNT_CAP + 1].count()  # no ORDER BY to count
    page_params = {"day": one_day.isoformat() if one_day else None,
                   "unpriced": "1" if request.GET.get("unpriced") == "1" else None}
    # the records themselves are read live (ingest shows before its rollup); the filter
    # bar and the rollup total are page data
    data = pagecache.page_data(request, project, "records", today,
                               lambda: _records_data(project, f, one_day, page_params),
                               ignore=("page", "after", "before"))
    context = {
        **_page(request, project, data),
        "records": batch,
        "page_number": number,
        "first_index": offset + 1,
        "last_index": offset + len(batch),
        "prev_query": (f.query(**page_params, page=number - 1 if number > 2 else None,
                               before=_cursor(batch[0]) if number > 2 else None)
                       if number > 1 and has_prev else None),
        "next_query": f.query(**page_params, page=number + 1, after=_cursor(batch[-1])) if has_next else None,
        "record_count": record_count,
        "count_capped": record_count > RECORDS_COUNT_CAP,
    }
    horizon = raw_horizon()
    # days whose raw records the retention dropped (their rollups, and the sum above, stay)
    context["raw_horizon"] = horizon if horizon and (one_day or f.start) < horizon else None
    if one_day:
        context["hours"] = hourly(qs, one_day)
        context["fig_hourly"] = charts.hourly_cost(context["hours"])
    return context


def _cursor(record: UsageRecord) -> str:
    """A record's place in the Records page order (day, timestamp, id: newest first)."""
    return f"{record.day.isoformat()}_{record.timestamp.isoformat()}_{record.pk}"


def _parse_cursor(value: str | None) -> tuple[date, datetime, int] | None:
    try:
        day, stamp, pk = (value or "").split("_")
        moment = datetime.fromisoformat(stamp)
        return date.fromisoformat(day), moment if moment.tzinfo else moment.replace(tzinfo=UTC), int(pk)
    except ValueError:
        return None


def _beyond(cursor: tuple[date, datetime, int], op: str) -> RawSQL:
    """(day, timestamp, id) beyond the cursor, as one row comparison: the (project, ledger,
    day) index starts its scan at the cursor's day, whose rows alone are sorted (PostgreSQL's
    incremental sort reads the range one day at a time and stops when the page is full)."""
    day, moment, pk = cursor
    q = connection.ops.quote_name
    table = q(UsageRecord._meta.db_table)
    return RawSQL(f"({table}.{q('day')}, {table}.{q('timestamp')}, {table}.{q('id')}) {op} (%s, %s, %s)",
                  [connection.ops.adapt_datefield_value(day), connection.ops.adapt_datetimefield_value(moment), pk],
                  output_field=BooleanField())


def _records_page(qs, params, offset: int) -> tuple[list[UsageRecord], bool, bool]:
    """One page of records, newest first, and whether there are older (next) and newer
    (previous) ones. The page links carry a keyset cursor (`after` / `before` the last /
    first record shown), so page 2,000 of 10M records costs what page 1 does; a bare
    ?page=N (an old link) falls back to OFFSET. No COUNT(*): one extra row tells if there
    is more."""
    after, before = _parse_cursor(params.get("after")), _parse_cursor(params.get("before"))
    if after:
        batch = list(qs.filter(_beyond(after, "<"))[:RECORDS_PER_PAGE + 1])
        return batch[:RECORDS_PER_PAGE], len(batch) > RECORDS_PER_PAGE, True
    if before:
        newer = list(qs.filter(_beyond(before, ">")).reverse()[:RECORDS_PER_PAGE + 1])
        return newer[:RECORDS_PER_PAGE][::-1], True, len(newer) > RECORDS_PER_PAGE or offset > 0
    batch = list(qs[offset:offset + RECORDS_PER_PAGE + 1])
    return batch[:RECORDS_PER_PAGE], len(batch) > RECORDS_PER_PAGE, offset > 0


def _records_data(project: Project, f: Filters, one_day: date | None, page_params: dict) -> dict:
    span = {"start": one_day, "end": one_day} if one_day else {}
    return {
        **_base_context(project, f, page_params),
        **_options(project, f),
        "one_day": one_day,
        "unpriced_only": page_params["unpriced"] == "1",
        "day_clear_query": f.query(unpriced=page_params["unpriced"]),
        "tz": _zone(project.timezone),
        "count_cap": RECORDS_COUNT_CAP,
        "filter_total": total_of(grouped(f.spend_query(project, **span))),
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


@require_GET
def export(request, slug: str, table: str):
    project = project_for_user(request, slug)
    f = Filters.from_request(request, project)
    if table == "breakdown":
        by = _choice(request.GET.get("by"), DIMENSIONS, "model")
        sort = _choice(request.GET.get("sort"), SORTS, "spend")
        desc = request.GET.get("dir", "desc" if sort != "name" else "asc") != "asc"
        rows = breakdown_rows(project, f, by, sort, desc)
        return exports.breakdown_csv(rows, by=by, filename=f"{project.slug}-{by}-{f.start}-{f.end}.csv",
                                     names=directory_names(project).get(by))
    if table == "daily":
        days = [derived(d) for d in by_period(grouped(f.spend_query(project, group_by=["day"])), f.start, f.end,
                                              f.granularity)]
        per = {"day": "daily", "week": "weekly", "month": "monthly"}[f.granularity]
        return exports.daily_csv(days, filename=f"{project.slug}-{per}-{f.start}-{f.end}.csv",
                                 granularity=f.granularity)
    if table == "features":
        rows = with_shares(ranked(f.spend_query(project, group_by=["feature"])))
        return exports.breakdown_csv(rows, by="feature", filename=f"{project.slug}-feature-{f.start}-{f.end}.csv")
    if table == "reconcile":
        _, _, result = _reconcile_inputs(request, project)
        return exports.reconcile_csv(result.cells, filename=f"{project.slug}-reconcile-{f.start}-{f.end}.csv")
    if table == "records":
        qs, _ = records_queryset(project, f, request)
        return exports.records_csv(qs, zone=_zone(project.timezone), names=directory_names(project),
                                   filename=f"{project.slug}-records-{f.start}-{f.end}.csv")
    raise Http404("No such table")


@require_http_methods(["GET", "POST"])
def keys(request, slug: str):
    project = project_for_user(request, slug)
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            key = get_object_or_404(project.keys, pk=request.POST["revoke"])
            revoke_key(key)
            messages.success(request, f"Key {key.prefix}… revoked.")
            return redirect("keys", slug=slug)
        if "directory" in request.POST:
            return _directory_edit(request, project)
        _, new_key = create_key(project, name=request.POST.get("name", "").strip()[:100] or "default")
    return render(
        request,
        "usage/keys.html",
        {"project": project, "keys": project.keys.order_by("-created_at"), "new_key": new_key,
         "directory": project.directory.all(), "providers": ["anthropic", "openai"],
         "kinds": DirectoryEntry.KIND_CHOICES},
    )


def _directory_edit(request, project: Project):
    """Rename a directory entry, or add one (provider, kind, id, name): the user's name wins
    over what sync and imports say."""
    post = request.POST
    entry = project.directory.filter(pk=post.get("entry") or 0).first()
    provider, kind = (entry.provider, entry.kind) if entry else (post.get("provider", ""), post.get("kind", ""))
    ident = entry.ident if entry else post.get("ident", "").strip()
    name = post.get("label", "").strip()
    if provider not in {"anthropic", "openai"} or kind not in dict(DirectoryEntry.KIND_CHOICES) or not ident or not name:
        messages.error(request, "A directory entry needs a provider, a kind, an id and a name.")
    else:
        learn(project=project, provider=provider, entries=[(kind, ident[:200], name[:200])], origin="user")
        messages.success(request, f"{ident} is now named {name!r}.")
    return redirect("keys", slug=project.slug)

