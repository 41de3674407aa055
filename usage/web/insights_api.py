"""Insights API: explain a change, what-if, anomalies (money as decimal-dollar strings)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from billing.pricing.money import decimal_string as money
from billing.pricing.money import usd_to_nano
from costwatch import clock
from costwatch.tenant.access import key_or_session, project_for
from usage import bounds
from usage.insights import anomalies as an
from usage.insights import explain as ex
from usage.insights import recommend as rc
from usage.insights import whatif as wi
from usage.reports.queries import SpendQuery, price_book
from usage.web import filters
from usage.web.filters import MAX_DAYS

router = Router(tags=["insights"])

FILTER_NAMES = ("model", "provider", "feature", "user", "api_key", "workspace", "batch")


class FilterParams(Schema):
    project: str | None = None
    ledger: str = ""
    model: str | None = None
    provider: str | None = None
    feature: str | None = None
    user: str | None = None
    api_key: str | None = None
    workspace: str | None = None
    batch: str | None = None


def _filters(params: FilterParams, names=FILTER_NAMES) -> dict[str, str]:
    if params.ledger not in ("", "metered", "billed"):
        raise HttpError(400, "ledger: expected metered or billed")
    return {n: getattr(params, n) for n in names if getattr(params, n) is not None}


def _range(start: date | None, end: date | None, name: str = "") -> tuple[date, date]:
    if start is None or end is None:
        raise HttpError(400, f"{name}start and {name}end: both required (YYYY-MM-DD)")
    if (problem := bounds.period_problem(start, end)) is not None:
        raise HttpError(400, f"{name}{problem[0]}: {problem[1]}")
    if end < start:
        raise HttpError(400, f"{name}end: before {name}start")
    if (end - start).days >= MAX_DAYS:
        raise HttpError(400, f"{name}end: at most {MAX_DAYS} days after {name}start")
    return start, end


class Effects(Schema):
    volume_usd: str
    mix_usd: str
    price_usd: str
    caching_usd: str


class ContributionOut(Effects):
    previous_usd: str
    current_usd: str
    change_usd: str


class ModelContribution(ContributionOut):
    model: str


class FeatureContribution(ContributionOut):
    feature: str


class ExplainOut(Schema):
    project: str
    ledger: str
    start: str
    end: str
    compare_start: str
    compare_end: str
    method: str
    current_usd: str
    previous_usd: str
    change_usd: str
    effects: Effects
    by_model: list[ModelContribution]
    by_feature: list[FeatureContribution]
    current_tokens: int
    previous_tokens: int
    unpriced_records: int
    summary: str


class ExplainParams(FilterParams):
    period: str | None = None
    compare: str | None = None
    start: date | None = None
    end: date | None = None
    compare_start: date | None = None
    compare_end: date | None = None


def effects_api(effects: dict[str, int]) -> dict[str, str]:
    return {f"{name}_usd": money(effects[name]) for name in ex.FACTORS}


def contribution_api(c: ex.Contribution, key: str) -> dict:
    return {key: c.key, "previous_usd": money(c.previous_nano), "current_usd": money(c.current_nano),
            "change_usd": money(c.change_nano), **effects_api(c.effects)}


def explain_periods(params: ExplainParams, today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    try:
        if params.period:
            start, end = ex.month_period(params.period)
            month = True
        else:
            start, end = _range(params.start, params.end)
            month = False
        compare_start, compare_end = params.compare_start, params.compare_end
        if params.compare:
            compare_start, compare_end = ex.month_period(params.compare)
        elif (compare_start is None) != (compare_end is None):
            raise HttpError(400, "compare_start and compare_end: give both or neither")
        elif compare_start is not None:
            _range(compare_start, compare_end, "compare_")
    except ValueError as exc:
        field = "compare" if params.period and params.compare and str(exc).endswith(f"{params.compare!r}") else "period"
        raise HttpError(400, f"{field}: {exc}") from exc
    return ex.compare_periods(start=start, end=end, today=today, month=month,
                              compare_start=compare_start, compare_end=compare_end)


@router.get("/explain", auth=key_or_session, response=ExplainOut, summary="Why spend changed between two periods")
def get_explain(request, params: Query[ExplainParams]):
    """The change in spend from the compared period (`compare=YYYY-MM` or
    `compare_start`/`compare_end`; default the previous month, or the same number of days
    before) to `period=YYYY-MM` (or `start`/`end`), split into volume, mix, price and
    caching/batch effects that add up exactly to `change_usd` (Shapley decomposition; see
    the README), in total, per model and per feature. A running month counts to today and
    is compared with the same days of the compared month."""
    project = project_for(request, params.project)
    dims = _filters(params)
    (start, end), (cstart, cend) = explain_periods(params, clock.utc_today())
    result, ledger = ex.explain_spend(
        SpendQuery(project=project, start=start, end=end, ledger=params.ledger, filters=dims),
        compare_start=cstart, compare_end=cend)
    return {
        "project": project.slug, "ledger": ledger,
        "start": start.isoformat(), "end": end.isoformat(),
        "compare_start": cstart.isoformat(), "compare_end": cend.isoformat(),
        "method": "shapley",
        "current_usd": money(result.current_nano), "previous_usd": money(result.previous_nano),
        "change_usd": money(result.change_nano),
        "effects": effects_api(result.effects),
        "by_model": [contribution_api(c, "model") for c in result.by_model],
        "by_feature": [contribution_api(c, "feature") for c in result.by_feature],
        "current_tokens": result.current_tokens, "previous_tokens": result.previous_tokens,
        "unpriced_records": result.unpriced_records,
        "summary": ex.sentence(result, previous_label=f"{cstart:%b %-d}–{cend:%b %-d}"),
    }


class WhatIfRow(Schema):
    feature: str
    model: str
    whatif_model: str
    actual_usd: str
    whatif_usd: str


class WhatIfTotal(Schema):
    name: str
    actual_usd: str
    whatif_usd: str


class WhatIfOut(Schema):
    project: str
    ledger: str
    start: str
    end: str
    scenario: str
    description: str
    actual_usd: str
    whatif_usd: str
    saving_usd: str
    saving_pct: str | None
    unpriced_records: int
    rows: list[WhatIfRow]
    by_feature: list[WhatIfTotal]
    by_model: list[WhatIfTotal]


class WhatIfParams(FilterParams):
    start: date
    end: date
    scenario: str = ""
    model: str | None = None  # the scenario's model, not a filter
    features: str = ""
    route: str = ""
    hit_rate: str = ""


def whatif_api(result: wi.WhatIf) -> dict:
    return {
        "scenario": result.scenario.kind,
        "description": result.scenario.describe(),
        "actual_usd": money(result.actual_nano),
        "whatif_usd": money(result.whatif_nano),
        "saving_usd": money(result.saving_nano),
        "saving_pct": None if result.saving_pct is None else format(result.saving_pct, "f"),
        "unpriced_records": result.unpriced_records,
        "rows": [{"feature": r.feature, "model": r.model, "whatif_model": r.whatif_model,
                  "actual_usd": money(r.actual_nano), "whatif_usd": money(r.whatif_nano)}
                 for r in result.rows],
        "by_feature": [{"name": r.feature, "actual_usd": money(r.actual_nano), "whatif_usd": money(r.whatif_nano)}
                       for r in result.by("feature")],
        "by_model": [{"name": r.model, "actual_usd": money(r.actual_nano), "whatif_usd": money(r.whatif_nano)}
                     for r in result.by("model")],
    }


@router.get("/whatif", auth=key_or_session, response=WhatIfOut, summary="Re-price the same usage under another choice")
def get_whatif(request, params: Query[WhatIfParams]):
    """Actual vs what-if cost of [start, end] (UTC days, end inclusive). `scenario`:
    `model` (`model=<priced model>`, `scenario` may be left out: every request on that
    model, token classes and batch carried over), `route` (`route=feature:model,…`), `no_cache`,
    `no_batch`, `batch` (with `features=a,b`: those features at batch rates), `cache`
    (`features=`, `hit_rate=0.8`: that share of prompt tokens read from cache, writes not
    charged: an upper bound). The spend filters (`feature=`, `provider=`, …; not `model`,
    which names the scenario's model here) select the usage.
    Unpriced records are counted in `unpriced_records` and left out of both totals."""
    project = project_for(request, params.project)
    dims = _filters(params, [n for n in FILTER_NAMES if n != "model"])
    start, end = _range(params.start, params.end)
    try:
        scenario = wi.parse_scenario(scenario=params.scenario, model=params.model or "", features=params.features,
                                     route=params.route, hit_rate=params.hit_rate, resolve=price_book().resolve)
    except wi.ScenarioError as exc:
        raise HttpError(400, str(exc)) from exc
    result, ledger = wi.whatif(SpendQuery(project=project, start=start, end=end, ledger=params.ledger,
                                          filters=dims), scenario)
    return {"project": project.slug, "ledger": ledger, "start": start.isoformat(), "end": end.isoformat(),
            **whatif_api(result)}


class AnomalyOut(Schema):
    day: str
    scope: str
    value: str
    spend_usd: str
    baseline_usd: str
    excess_usd: str
    records_url: str


class AnomaliesOut(Schema):
    project: str
    ledger: str
    start: str
    end: str
    method: str
    min_usd: str
    days: list[AnomalyOut]


class AnomalyParams(Schema):
    project: str | None = None
    start: date | None = None
    end: date | None = None
    ledger: str = ""
    min_usd: Decimal = Field(default=Decimal(5), ge=0)


def records_url(project, a: an.Anomaly, ledger: str) -> str:
    params = {"range": "custom", "start": a.day.isoformat(), "end": a.day.isoformat(), "day": a.day.isoformat(),
              "ledger": ledger}
    if a.scope != "project":
        params[a.scope] = a.value or filters.NONE
    return reverse("records", args=[project.slug]) + "?" + urlencode(params)


@router.get("/anomalies", auth=key_or_session, response=AnomaliesOut, summary="Days of unusually high spend")
def get_anomalies(request, params: Query[AnomalyParams]):
    """Days in [start, end] (default: the last 30 UTC days) whose spend — for the project,
    each model and each feature — is far above its trailing baseline: modified z-score
    0.6745 × (spend − median) / MAD above 3.5 over the previous 28 days, and at least
    `min_usd` (default 5) above the median. `value` is the model or feature ('' for the
    project); each day links to its records."""
    project = project_for(request, params.project)
    if params.ledger not in ("", "metered", "billed"):
        raise HttpError(400, "ledger: expected metered or billed")
    today = clock.utc_today()
    end = params.end or today
    start = params.start or end - timedelta(days=29)
    _range(start, end)
    found, ledger = an.anomalies(project, start=start, end=end, ledger=params.ledger,
                                 min_excess_nano=usd_to_nano(params.min_usd))
    return {
        "project": project.slug, "ledger": ledger, "start": start.isoformat(), "end": end.isoformat(),
        "method": "median and MAD of the previous 28 days; modified z-score > 3.5 and at least min_usd above the median",
        "min_usd": format(params.min_usd, "f"),
        "days": [{"day": a.day.isoformat(), "scope": a.scope, "value": a.value, "spend_usd": money(a.spend_nano),
                  "baseline_usd": money(a.baseline_nano), "excess_usd": money(a.excess_nano),
                  "records_url": records_url(project, a, ledger)} for a in found],
    }


class RecommendationOut(Schema):
    kind: str
    feature: str
    title: str
    detail: str
    saving_usd: str
    feature_cost_usd: str
    evidence_url: str


class RecommendationsOut(Schema):
    project: str
    ledger: str
    start: str
    end: str
    recommendations: list[RecommendationOut]


class RecommendationParams(Schema):
    project: str | None = None
    start: date | None = None
    end: date | None = None
    ledger: str = ""


@router.get("/recommendations", auth=key_or_session, response=RecommendationsOut,
            summary="Ranked savings from the what-if engine")
def get_recommendations(request, params: Query[RecommendationParams]):
    """What would save the most in [start, end] (default the last 30 UTC days): a cheaper
    model of the same family per feature, caching for large prompts with a low hit rate
    (an upper bound), the Batch API for night-time features without end users. Each with
    its saving and the what-if page that shows it."""
    project = project_for(request, params.project)
    if params.ledger not in ("", "metered", "billed"):
        raise HttpError(400, "ledger: expected metered or billed")
    end = params.end or clock.utc_today()
    start = params.start or end - timedelta(days=29)
    _range(start, end)
    found, ledger = rc.recommend(SpendQuery(project=project, start=start, end=end, ledger=params.ledger),
                                 timezone=project.timezone)
    page = reverse("insights_whatif", args=[project.slug])
    base = {"range": "custom", "start": start.isoformat(), "end": end.isoformat()}
    return {"project": project.slug, "ledger": ledger, "start": start.isoformat(), "end": end.isoformat(),
            "recommendations": [{"kind": r.kind, "feature": r.feature, "title": r.title, "detail": r.detail,
                                 "saving_usd": money(r.saving_nano), "feature_cost_usd": money(r.actual_nano),
                                 "evidence_url": page + "?" + urlencode({**base, **r.params})}
                                for r in found]}
