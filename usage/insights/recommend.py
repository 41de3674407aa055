"""Recommendations: a short ranked list, each with its $ impact from the what-if engine on
this project's own usage, and a link to that what-if as evidence. No number, no
recommendation.

- a cheaper model of the same family for a feature (Opus -> Sonnet -> Haiku, GPT -> mini ->
  nano): what routing that feature would have cost;
- prompt caching for a feature with large prompts and a low cache hit rate: the saving at
  an 80 % hit rate with writes not charged (an upper bound, said so);
- the Batch API for a feature with no end user that runs mostly at night (10 PM–6 AM in the
  project's time zone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.db.models.functions import ExtractHour

from billing.pricing.classes import PROMPT_COLUMNS
from usage.insights import whatif as wi
from usage.models import UsageRecord
from usage.reports.queries import SpendQuery, default_ledger, price_book

MIN_SAVING_NANO = 1_000_000_000  # $1 over the period
MIN_SAVING_SHARE = Fraction(1, 10)  # of the feature's cost
CACHE_TARGET = Fraction(8, 10)
LOW_HIT_RATE = Fraction(1, 2)
LARGE_PROMPT = 2000  # tokens per request
NIGHT = (22, 6)
NIGHT_SHARE = Fraction(1, 2)
STEPS = [("opus", "sonnet"), ("sonnet", "haiku"), ("-mini", "-nano")]


def cheaper_sibling(model: str, resolve) -> str | None:
    """The next cheaper model of the same family that the price table knows."""
    candidates = [model.replace(a, b) for a, b in STEPS if a in model]
    if "mini" not in model and "nano" not in model and "haiku" not in model:
        candidates.append(f"{model}-mini")
    for name in candidates:
        target = resolve(name)
        if target and target != model:
            return target
    return None


@dataclass
class Recommendation:
    kind: str
    feature: str
    title: str
    detail: str
    saving_nano: int
    actual_nano: int
    params: dict = field(default_factory=dict)  # the what-if page's parameters

    @property
    def saving_pct(self) -> Fraction:
        return Fraction(self.saving_nano, self.actual_nano) if self.actual_nano else Fraction(0)


def _feature_profile(q: SpendQuery, tz: ZoneInfo) -> dict[str, dict]:
    """Per feature: requests, with an end user, interactive, interactive at night."""
    hour = ExtractHour("timestamp", tzinfo=tz)
    start, end = NIGHT
    night = Q(batch=False) & (Q(_hour__gte=start) | Q(_hour__lt=end))
    qs = (UsageRecord.objects.filter(project=q.project, ledger=q.ledger, day__gte=q.start, day__lte=q.end)
          .annotate(_hour=hour).values("feature")
          .annotate(requests=Count("id"), with_user=Count("id", filter=~Q(end_user="")),
                    interactive=Count("id", filter=Q(batch=False)), night=Count("id", filter=night))
          .order_by("feature"))
    return {r["feature"]: r for r in qs}


def recommend(q: SpendQuery, *, timezone: str = "UTC", limit: int = 8) -> tuple[list[Recommendation], str]:
    ledger = q.ledger or default_ledger(q.project, q.start, q.end)
    q = SpendQuery(project=q.project, start=q.start, end=q.end, ledger=ledger, filters=q.filters)
    book = price_book()
    bands = wi.thresholds()
    groups = wi.usage_groups(q, bands=bands)
    base = wi.reprice(groups, wi.Scenario("no_batch"), book=book, bands=bands)
    feature_cost = {r.feature: r.actual_nano for r in base.by("feature")}
    by_feature: dict[str, list[dict]] = {}
    for g in groups:
        by_feature.setdefault(g["feature"], []).append(g)
    out: list[Recommendation] = []

    def consider(kind, feature, scenario, params, title, detail):
        result = wi.reprice(by_feature.get(feature, []), scenario, book=book, bands=bands)
        saving = result.saving_nano
        actual = feature_cost.get(feature, 0)
        if saving >= MIN_SAVING_NANO and actual and Fraction(saving, actual) >= MIN_SAVING_SHARE:
            out.append(Recommendation(kind, feature, title, detail, saving, actual, params))

    # cheaper model per (feature, model)
    for row in base.rows:
        sibling = cheaper_sibling(row.model, book.resolve)
        if sibling and row.feature:
            consider("model", row.feature, wi.Scenario("route", routes=((row.feature, sibling),)),
                     {"scenario": "route", "route": f"{row.feature}:{sibling}"},
                     f"{row.feature} on {row.model} would cost less on {sibling}",
                     "Same requests and token classes at the cheaper model's rates; check quality on a sample first.")
    # caching for large prompts with a low hit rate
    prompts: dict[str, list[int]] = {}
    for g in groups:
        if g["priced"]:
            acc = prompts.setdefault(g["feature"], [0, 0, 0])
            acc[0] += sum(g[c] for c in PROMPT_COLUMNS)
            acc[1] += g["cache_read_tokens"]
            acc[2] += g["records"]
    for feature, (prompt, read, records) in prompts.items():
        if not feature or not prompt or not records:
            continue
        hit = Fraction(read, prompt)
        if hit < LOW_HIT_RATE and prompt // records >= LARGE_PROMPT:
            consider("cache", feature, wi.Scenario("cache", features=frozenset([feature]), hit_rate=CACHE_TARGET),
                     {"scenario": "cache", "features": feature, "hit_rate": "0.8"},
                     f"{feature} reads {float(hit):.0%} from cache with {prompt // records:,}-token prompts — caching could save up to",
                     "If 80 % of each prompt were a cached prefix (cache writes not charged: an upper bound).")
    # batch for night-time features without end users
    for feature, p in _feature_profile(q, ZoneInfo(timezone)).items():
        if feature and not p["with_user"] and p["interactive"] and Fraction(p["night"], p["interactive"]) >= NIGHT_SHARE:
            share = Fraction(p["night"], p["interactive"])
            consider("batch", feature, wi.Scenario("batch", features=frozenset([feature])),
                     {"scenario": "batch", "features": feature},
                     f"{feature} runs at night with no end user — the Batch API would save",
                     f"{float(share):.0%} of its interactive requests are sent 10 PM–6 AM ({timezone}); batch results arrive within 24 h.")
    out.sort(key=lambda r: (-r.saving_nano, r.kind, r.feature))
    # one recommendation per (kind, feature): the largest
    seen, ranked = set(), []
    for r in out:
        if (r.kind, r.feature) not in seen:
            seen.add((r.kind, r.feature))
            ranked.append(r)
    return ranked[:limit], ledger


