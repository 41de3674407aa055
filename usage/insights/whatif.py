"""What-if: the same usage re-priced under another choice (another model, a routing map,
no caching, no batch, batch for some features, more caching).

Re-pricing calls billing.pricing.cost() with the price book ingest prices with, so a
what-if follows every rule of the price table. Rows the scenario does not touch keep their
stored cost, and "no cache" / "no batch" are the costs every record stored at ingest.
The usage is read from the records grouped in the database by every attribute the rules
read (UTC day, model, feature, batch, service tier, speed, long-context flag and the
prompt-size band of each long-context threshold): the rollups do not keep those. Unpriced
records are counted and left out of both totals, never re-priced from $0."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from django.db.models import BigIntegerField, Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce, NullIf

from billing.pricing.classes import PRICED_COLUMNS, PROMPT_COLUMNS, rate_class
from billing.pricing.models import ModelPrice
from billing.pricing.rates import Tokens, Unpriced, cost
from usage.models import UsageRecord
from usage.reports.queries import COLUMN, SpendQuery, default_ledger, price_book

KINDS = ("model", "route", "no_cache", "no_batch", "batch", "cache")
COST_COLUMNS = ["cost_nano", "cost_no_cache_nano", "cost_no_batch_nano", "fees_nano"]


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message names the parameter."""


@dataclass(frozen=True)
class Scenario:
    kind: str
    model: str = ""
    features: frozenset[str] = frozenset()
    routes: tuple[tuple[str, str], ...] = ()  # (feature, model)
    hit_rate: Fraction = Fraction(0)

    def target(self, feature: str) -> str | None:
        if self.kind == "model":
            return self.model
        return dict(self.routes).get(feature)

    def describe(self) -> str:
        if self.kind == "model":
            return f"every request on {self.model}"
        if self.kind == "route":
            return "; ".join(f"{f or '(none)'} on {m}" for f, m in self.routes)
        if self.kind == "no_cache":
            return "without prompt caching (cache reads and writes at the uncached input rate)"
        if self.kind == "no_batch":
            return "without the Batch API (batch requests at interactive rates)"
        if self.kind == "batch":
            return f"{', '.join(sorted(self.features)) or 'every feature'} through the Batch API"
        return (f"{', '.join(sorted(self.features)) or 'every feature'} reading "
                f"{float(self.hit_rate):.0%} of prompt tokens from cache")


def _split(value: str) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def parse_scenario(*, scenario: str = "", model: str = "", features: str = "", route: str = "",
                   hit_rate: str = "", resolve) -> Scenario:
    """The scenario of the API's / page's parameters; `resolve(name)` is the price book's
    model lookup. ScenarioError names the parameter at fault."""
    kind = scenario or ("route" if route else "model" if model else "")
    if kind not in KINDS:
        raise ScenarioError(f"scenario: expected one of {', '.join(KINDS)} (or model= / route=)")
    feature_set = frozenset("" if f == "(none)" else f for f in _split(features))
    if kind == "model":
        target = resolve(model) if model else None
        if target is None:
            raise ScenarioError(f"model: no price for {model!r}; expected a priced model id" if model
                                else "model: required for scenario=model")
        return Scenario(kind, model=target)
    if kind == "route":
        routes = []
        for part in _split(route):
            feature, sep, name = part.rpartition(":")
            target = resolve(name) if sep else None
            if target is None:
                raise ScenarioError(f"route: {part!r}: expected feature:model with a priced model")
            routes.append(("" if feature == "(none)" else feature, target))
        if not routes:
            raise ScenarioError("route: expected feature:model,… (at least one)")
        return Scenario(kind, routes=tuple(routes))
    if kind == "cache":
        try:
            rate = Fraction(hit_rate or "0.8")
        except ValueError as exc:
            raise ScenarioError("hit_rate: expected a fraction between 0 and 1, e.g. 0.8") from exc
        if not 0 < rate <= 1:
            raise ScenarioError("hit_rate: expected a fraction between 0 and 1, e.g. 0.8")
        return Scenario(kind, features=feature_set, hit_rate=rate)
    return Scenario(kind, features=feature_set)


def thresholds() -> list[int]:
    """Every prompt-size threshold of the price table, ascending."""
    return sorted(set(ModelPrice.objects.exclude(long_context_threshold=None)
                      .values_list("long_context_threshold", flat=True)))


def usage_groups(q: SpendQuery, *, bands: list[int]) -> list[dict]:
    """q's records grouped by everything the price rules read (one GROUP BY)."""
    ledger = q.ledger or default_ledger(q.project, q.start, q.end)
    qs = UsageRecord.objects.filter(project=q.project, ledger=ledger, day__gte=q.start, day__lte=q.end)
    for name, value in q.filters.items():
        if name == "model":
            qs = qs.filter(Q(priced_model=value) | Q(priced_model="", model=value))
        elif name == "batch":
            qs = qs.filter(batch=str(value).lower() in {"1", "true", "yes"})
        else:
            qs = qs.filter(**{COLUMN[name]: value})
    prompt = sum((F(c) for c in PROMPT_COLUMNS[1:]), F(PROMPT_COLUMNS[0]))
    band = Case(*[When(Q(_prompt__gt=t), then=Value(len(bands) - i)) for i, t in enumerate(reversed(bands))],
                default=Value(0), output_field=IntegerField())
    qs = qs.annotate(
        _prompt=prompt,
        _model=Coalesce(NullIf("priced_model", Value("")), "model"),
        _band=band,
        _single=Case(When(requests=1, then=Value(1)), default=Value(0), output_field=IntegerField()),
        _tokenless=Case(When(Q(_prompt=0, output_tokens=0), then=Value(1)), default=Value(0),
                        output_field=IntegerField()),
        _priced=Case(When(cost_nano__isnull=False, then=Value(1)), default=Value(0), output_field=IntegerField()),
    )
    keys = ["day", "_model", "feature", "batch", "service_tier", "speed", "long_context", "_band",
            "_single", "_tokenless", "_priced"]
    sums = {c: Coalesce(Sum(c), Value(0), output_field=BigIntegerField()) for c in PRICED_COLUMNS + COST_COLUMNS}
    out = []
    for values in qs.values(*keys).annotate(records=Count("id"), **sums).order_by(*keys):
        values["model"] = values.pop("_model")
        for k in ("band", "single", "tokenless", "priced"):
            values[k] = values.pop(f"_{k}")
        out.append(values)
    return out


@dataclass
class Row:
    feature: str
    model: str
    actual_nano: int = 0
    whatif_nano: int = 0
    whatif_model: str = ""


@dataclass
class WhatIf:
    scenario: Scenario
    actual_nano: int = 0
    whatif_nano: int = 0
    unpriced_records: int = 0
    rows: list[Row] = field(default_factory=list)

    @property
    def saving_nano(self) -> int:
        return self.actual_nano - self.whatif_nano

    @property
    def saving_pct(self) -> Decimal | None:
        if not self.actual_nano:
            return None
        return (Decimal(self.saving_nano) * 100 / self.actual_nano).quantize(Decimal("0.1"), ROUND_HALF_EVEN)

    def by(self, key: str) -> list[Row]:
        """Rows summed per feature or per model, largest actual cost first."""
        out: dict[str, Row] = {}
        for r in self.rows:
            name = getattr(r, key)
            acc = out.setdefault(name, Row(feature=name if key == "feature" else "",
                                           model=name if key == "model" else ""))
            acc.actual_nano += r.actual_nano
            acc.whatif_nano += r.whatif_nano
        return sorted(out.values(), key=lambda r: (-r.actual_nano, getattr(r, key)))


def _tokens(g: dict) -> Tokens:
    """A group's sums as the pricing function's tokens (every priced class of the one list).
    Tool fees are not re-priced: a scenario keeps the group's fees_nano."""
    return Tokens(**{rate_class(c): g[c] for c in PRICED_COLUMNS})


def _more_cache(tokens: Tokens, hit_rate: Fraction) -> Tokens | None:
    """Uncached input moved to cache reads until `hit_rate` of the prompt is read from
    cache (writes not charged: an upper bound); None if it already is."""
    target = int(hit_rate * tokens.prompt)
    moved = min(tokens.input, target - tokens.cache_read)
    if moved <= 0:
        return None
    return replace(tokens, input=tokens.input - moved, cache_read=tokens.cache_read + moved)


def _group_whatif(g: dict, s: Scenario, book, bands: list[int]) -> tuple[int, str]:
    """(what-if cost, the model it is priced on) of one priced group."""
    actual = g["cost_nano"]
    if s.kind == "no_cache":
        return g["cost_no_cache_nano"], g["model"]
    if s.kind == "no_batch":
        return g["cost_no_batch_nano"], g["model"]
    if g["tokenless"]:
        return actual, g["model"]  # a billed amount without tokens: nothing to re-price
    if s.kind in ("batch", "cache"):
        if s.features and g["feature"] not in s.features:
            return actual, g["model"]
        rates = book.rates_at(g["model"], g["day"])
        if rates is None:
            return actual, g["model"]
        if s.kind == "batch":
            if g["batch"]:
                return actual, g["model"]
            priced = cost(_tokens(g), rates, batch=True, speed=g["speed"], long_context=g["long_context"])
            return priced.cost_nano + g["fees_nano"], g["model"]
        tokens = _more_cache(_tokens(g), s.hit_rate)
        if tokens is None:
            return actual, g["model"]
        priced = cost(tokens, rates, batch=g["batch"], service_tier=g["service_tier"], speed=g["speed"],
                      long_context=g["long_context"])
        return priced.cost_nano + g["fees_nano"], g["model"]
    target = s.target(g["feature"])
    if target is None or book.resolve(g["model"]) == target:
        return actual, g["model"]
    rates = book.rates_at(target, g["day"])
    if rates is None:
        return actual, g["model"]  # the target had no price yet on that day
    long_context = g["long_context"]
    if g["single"]:
        # per request: the target model's own threshold decides, from the prompt-size band
        t = rates.long_context_threshold
        long_context = bool(t) and t in bands and g["band"] > bands.index(t)
    priced = cost(_tokens(g), rates, batch=g["batch"], service_tier=g["service_tier"], speed=g["speed"],
                  long_context=long_context)
    # tokens are re-priced; the tool fees stay what they were
    return priced.cost_nano + g["fees_nano"], target


def reprice(groups: list[dict], scenario: Scenario, *, book, bands: list[int]) -> WhatIf:
    """Actual vs what-if per (feature, model) of usage_groups() rows."""
    result = WhatIf(scenario=scenario)
    rows: dict[tuple[str, str], Row] = {}
    targets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for g in groups:
        if not g["priced"]:
            result.unpriced_records += g["records"]
            continue
        try:
            whatif, model = _group_whatif(g, scenario, book, bands)
        except Unpriced:
            # the scenario's model has no rate for this group's tier: keep what it cost
            whatif, model = g["cost_nano"], g["model"]
        key = (g["feature"], g["model"])
        row = rows.setdefault(key, Row(feature=g["feature"], model=g["model"]))
        row.actual_nano += g["cost_nano"]
        row.whatif_nano += whatif
        targets[key].add(model)
    for key, row in rows.items():
        row.whatif_model = ", ".join(sorted(targets[key]))
        result.actual_nano += row.actual_nano
        result.whatif_nano += row.whatif_nano
    result.rows = sorted(rows.values(), key=lambda r: (-r.actual_nano, r.feature, r.model))
    return result


def whatif(q: SpendQuery, scenario: Scenario) -> tuple[WhatIf, str]:
    ledger = q.ledger or default_ledger(q.project, q.start, q.end)
    bands = thresholds()
    groups = usage_groups(SpendQuery(project=q.project, start=q.start, end=q.end, ledger=ledger,
                                     filters=q.filters), bands=bands)
    return reprice(groups, scenario, book=price_book(), bands=bands), ledger


def priced_models() -> list[str]:
    """Every model the price table can price (for the what-if model choice)."""
    return sorted(set(ModelPrice.objects.values_list("model", flat=True)))
