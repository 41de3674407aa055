"""Pure pricing: which rates are in force for a model at a time, and what a record costs.

Money is integer nano-USD. Rates are Decimal USD per million tokens, so one token at
$1/M costs 1,000 nano-USD. Each record's cost is summed in Decimal and rounded once.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from billing.pricing.classes import FEE_CLASSES, RATE_CLASSES
from billing.pricing.models import ModelAlias, ModelPrice
from billing.pricing.money import to_nano

NANO_PER_TOKEN_AT_1_PER_M = Decimal(1000)
NANO_PER_REQUEST_AT_1_PER_K = Decimal(1_000_000)  # $1 per 1,000 requests

_DATE_SUFFIX = re.compile(r"(-|@)(\d{8}|\d{4}-\d{2}-\d{2})$")
_PROVIDER_PREFIX = re.compile(r"^(openrouter/)?(anthropic|openai|gemini|google|deepseek|models|azure|vertex_ai|bedrock)/")
# Bedrock ids: optional cross-region prefix, vendor, model, version: us.anthropic.claude-x-v1:0
_BEDROCK = re.compile(r"^(?:(?:us|eu|au|apac|jp|global|us-gov)\.)?(?:anthropic|openai|deepseek)\.(.+?)(?:-v\d+(?::\d+)?)?$")
# Claude Code's context marker and "latest" pointers name the model they point at.
_MARKERS = re.compile(r"(\[1m\]|-latest)$")

# OpenAI names its priority tier "fast" since 2026-07-30; these tiers are priced as standard.
STANDARD_TIERS = {"", "default", "auto", "standard", "standard_only", "on_demand"}
PRIORITY_TIERS = {"priority", "priority_on_demand", "fast"}
DISCOUNT_TIERS = {"batch", "flex"}


class Unpriced(ValueError):
    """The price table has no rate for this situation (e.g. a tier the model doesn't offer)."""


@dataclass(frozen=True)
class Rates:
    model: str
    provider: str
    effective_from: date
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    cache_write_30m: Decimal | None = None
    cache_write_12h: Decimal | None = None
    audio_input: Decimal | None = None
    batch_discount: Decimal | None = Decimal("0.5")
    long_context_threshold: int | None = None
    lc_input: Decimal | None = None
    lc_output: Decimal | None = None
    lc_cache_read: Decimal | None = None
    lc_cache_write_5m: Decimal | None = None
    lc_cache_write_1h: Decimal | None = None
    lc_cache_write_30m: Decimal | None = None
    lc_cache_write_12h: Decimal | None = None
    priority_input: Decimal | None = None
    priority_output: Decimal | None = None
    priority_cache_read: Decimal | None = None
    fast_multiplier: Decimal | None = None
    batch_cache_read: Decimal | None = None
    peak_hours: str = ""
    peak_multiplier: Decimal | None = None
    web_search_fee: Decimal | None = None
    web_fetch_fee: Decimal | None = None
    file_search_fee: Decimal | None = None
    grounding_fee: Decimal | None = None
    regional_multiplier: Decimal | None = None
    source_url: str = ""

    @classmethod
    def from_price(cls, price) -> Rates:
        return cls(**{f: getattr(price, f) for f in RATE_FIELDS})

    def is_peak(self, when: datetime | None) -> bool:
        """`peak_hours` lists UTC windows [start, end) priced at `peak_multiplier`, e.g.
        "01-04,06-10" or "16:30-00:30" (a window may wrap midnight; a multiplier below 1 is
        an off-peak discount). A row without a time of day (a daily aggregate) is never peak."""
        if not self.peak_hours or not self.peak_multiplier or not isinstance(when, datetime):
            return False
        moment = when.astimezone(UTC) if when.tzinfo else when
        minute = moment.hour * 60 + moment.minute
        for window in self.peak_hours.split(","):
            first, _, last = window.strip().partition("-")
            start, end = _minutes(first), _minutes(last)
            inside = start <= minute < end if start <= end else (minute >= start or minute < end)
            if inside:
                return True
        return False

    def per_class(self, *, long_context: bool = False, priority: bool = False) -> dict[str, Decimal]:
        """The rate of each token class (USD per M) for one request's situation. A class
        without a rate of its own (NULL) is billed at the input rate."""
        inp, out, read = self.input, self.output, self.cache_read
        writes = {c: getattr(self, c) for c in CACHE_WRITES}
        if long_context and self.lc_input is not None:
            inp = self.lc_input
            out = self.lc_output if self.lc_output is not None else out
            read = self.lc_cache_read if self.lc_cache_read is not None else read
            for c in CACHE_WRITES:
                long = getattr(self, f"lc_{c}")
                writes[c] = long if long is not None else writes[c]
        elif priority and self.priority_input is not None:
            inp = self.priority_input
            out = self.priority_output if self.priority_output is not None else out
            read = self.priority_cache_read if self.priority_cache_read is not None else read
        rates = {"input": inp, "output": out, "cache_read": read if read is not None else inp}
        rates.update({c: rate if rate is not None else inp for c, rate in writes.items()})
        # audio has no long-context / priority rate of its own in any price list
        rates["audio_input"] = self.audio_input if self.audio_input is not None else inp
        return rates

    def fees_nano(self, tools: Tools) -> int:
        """Per-request fees (USD per 1,000 requests), not discounted or multiplied: the
        providers state them per request. Raises Unpriced for a tool the model has no fee for."""
        total = Decimal(0)
        for name in FEE_CLASSES:
            count = getattr(tools, name)
            if not count:
                continue
            fee = getattr(self, f"{name}_fee")
            if fee is None:
                raise Unpriced(f"{self.model}: no {name.replace('_', ' ')} price")
            total += count * fee * NANO_PER_REQUEST_AT_1_PER_K
        return to_nano(total)


CACHE_WRITES = ["cache_write_5m", "cache_write_1h", "cache_write_30m", "cache_write_12h"]

RATE_FIELDS = list(Rates.__dataclass_fields__)


def _minutes(clock: str) -> int:
    """ "06" or "06:30" -> minutes after midnight."""
    hours, _, minutes = clock.strip().partition(":")
    return int(hours) * 60 + int(minutes or 0)


@dataclass(frozen=True)
class Tokens:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_write_30m: int = 0
    cache_write_12h: int = 0
    audio_input: int = 0

    @property
    def prompt(self) -> int:
        return sum(getattr(self, c) for c in RATE_CLASSES if c != "output")


@dataclass(frozen=True)
class Tools:
    """Per-request tool counts of a record (billing.pricing.classes.FEE_CLASSES)."""

    web_search: int = 0
    web_fetch: int = 0
    file_search: int = 0
    grounding: int = 0


@dataclass(frozen=True)
class Cost:
    cost_nano: int
    no_cache_nano: int
    no_batch_nano: int
    long_context: bool
    fees_nano: int = 0


def _sum_nano(tokens: Tokens, rates: dict[str, Decimal]) -> Decimal:
    return sum(getattr(tokens, c) * rates[c] for c in RATE_CLASSES) * NANO_PER_TOKEN_AT_1_PER_M


def cost(
    tokens: Tokens,
    rates: Rates,
    *,
    batch: bool = False,
    service_tier: str = "",
    speed: str = "",
    long_context: bool | None = None,
    when: datetime | None = None,
    tools: Tools | None = None,
    regional: bool = False,
) -> Cost:
    """Cost of one record. `long_context=None` decides from the prompt size (per request);
    aggregated rows (console exports) pass the provider's own context-window label.
    `regional`: processed on a regional endpoint / inference_geo (see is_regional); the
    model's regional_multiplier applies to every token class. Tool fees are added as they
    are. Raises Unpriced for a tier / speed / tool the model has no rate for."""
    if long_context is None:
        long_context = bool(
            rates.long_context_threshold and tokens.prompt > rates.long_context_threshold
        )
    tier = (service_tier or "").lower()
    priority = tier in PRIORITY_TIERS
    # OpenAI's flex tier is billed at batch prices.
    discounted = batch or tier in DISCOUNT_TIERS
    if tier not in STANDARD_TIERS | PRIORITY_TIERS | DISCOUNT_TIERS:
        raise Unpriced(f"{rates.model}: no rate for service tier {service_tier!r}")
    if priority and rates.priority_input is None:
        raise Unpriced(f"{rates.model}: no {service_tier!r} (priority) rate")
    if tier in DISCOUNT_TIERS and rates.batch_discount is None:
        # (a client's own batch=true on a model without a batch API stays at list price)
        raise Unpriced(f"{rates.model}: no {service_tier!r} rate")
    if speed == "fast" and not rates.fast_multiplier:
        raise Unpriced(f"{rates.model}: no fast-mode rate")
    per = rates.per_class(long_context=long_context, priority=priority)

    full = _sum_nano(tokens, per)
    uncached = Tokens(input=tokens.prompt - tokens.audio_input, audio_input=tokens.audio_input,
                      output=tokens.output)
    no_cache = _sum_nano(uncached, per)

    multiplier = Decimal(1)
    if speed == "fast" and rates.fast_multiplier:
        multiplier *= rates.fast_multiplier
    if rates.is_peak(when):
        multiplier *= rates.peak_multiplier
    if regional and rates.regional_multiplier:
        multiplier *= rates.regional_multiplier
    fees = rates.fees_nano(tools or Tools())
    discount = Decimal(1)
    billed = full
    if discounted and rates.batch_discount:
        discount = Decimal(1) - rates.batch_discount
        billed = full * discount
        if rates.batch_cache_read is not None:
            # the provider states the batch cache-read rate on its own (Gemini keeps the
            # standard cache price; older OpenAI models bill it at the batch input rate)
            billed += tokens.cache_read * (rates.batch_cache_read - per["cache_read"] * discount) * (
                NANO_PER_TOKEN_AT_1_PER_M)
    return Cost(
        cost_nano=to_nano(billed * multiplier) + fees,
        no_cache_nano=to_nano(no_cache * multiplier * discount) + fees,
        no_batch_nano=to_nano(full * multiplier) + fees,
        long_context=long_context,
        fees_nano=fees,
    )


# Cross-region ids on Bedrock: a geography (us., eu., …) is a regional endpoint, global. is not.
_BEDROCK_GEO = re.compile(r"^(?:bedrock/)?(us|eu|au|apac|jp|ca|us-gov)\.(?:anthropic|openai)\.")
_BEDROCK_IN_REGION = re.compile(r"^(?:bedrock/)?(?:anthropic|openai)\.")
GLOBAL_REGIONS = {"", "global", "not_available", "none", "default"}


def is_regional(model: str, region: str = "") -> bool:
    """Whether a request ran on a regional endpoint that some models price higher: an
    Anthropic inference_geo / OpenAI regional-processing region other than global, or a
    Bedrock id that is geographic (us.anthropic.…) or in-region (anthropic.…, no prefix)
    rather than global (global.anthropic.…)."""
    if (region or "").strip().lower() not in GLOBAL_REGIONS:
        return True
    name = model.strip().lower()
    return bool(_BEDROCK_GEO.match(name) or _BEDROCK_IN_REGION.match(name))


def canonical_name(name: str) -> str:
    """Lowercase, strip a gateway prefix and a trailing snapshot date."""
    name = name.strip().lower()
    name = _PROVIDER_PREFIX.sub("", name)
    return _DATE_SUFFIX.sub("", name)


class PriceBook:
    """All prices and aliases in memory: loaded once per ingest batch, looked up per record."""

    def __init__(self, prices: list[Rates], aliases: dict[str, str]):
        self._by_model: dict[str, list[Rates]] = {}
        for rates in sorted(prices, key=lambda r: (r.model, r.effective_from)):
            self._by_model.setdefault(rates.model, []).append(rates)
        self._starts = {m: [r.effective_from for r in rs] for m, rs in self._by_model.items()}
        self._aliases = {k.strip().lower(): v for k, v in aliases.items()}
        self._resolved: dict[str, str | None] = {}  # a batch repeats a few model names

    @classmethod
    def load(cls) -> PriceBook:
        prices = [Rates.from_price(p) for p in ModelPrice.objects.all()]
        aliases = dict(ModelAlias.objects.values_list("alias", "model"))
        return cls(prices, aliases)

    def resolve(self, name: str) -> str | None:
        """The canonical model id a name prices as, or None if no price exists."""
        if name not in self._resolved:
            self._resolved[name] = self._lookup(name)
        return self._resolved[name]

    def _lookup(self, name: str) -> str | None:
        candidates = [name.strip().lower()]
        candidates.append(canonical_name(name))
        for candidate in list(candidates):
            bedrock = _BEDROCK.match(candidate)
            if bedrock:
                candidates.append(canonical_name(bedrock.group(1)))
        for candidate in list(candidates):
            if _MARKERS.search(candidate):
                candidates.append(canonical_name(_MARKERS.sub("", candidate)))
        for candidate in list(candidates):
            if candidate.startswith("claude") and "." in candidate:
                candidates.append(candidate.replace(".", "-"))  # OpenRouter's claude-sonnet-4.5
        for candidate in list(candidates):
            if candidate.endswith("-fast"):
                candidates.append(candidate.removesuffix("-fast"))
        for candidate in candidates:
            if candidate in self._by_model:
                return candidate
            target = self._aliases.get(candidate)
            if target and target in self._by_model:
                return target
        return None

    def rates_at(self, name: str, when: date | datetime) -> Rates | None:
        model = self.resolve(name)
        if model is None:
            return None
        day = when.date() if isinstance(when, datetime) else when
        idx = bisect_right(self._starts[model], day) - 1
        if idx < 0:
            # Usage dated before the model's first price row: unpriced, not a guess.
            return None
        return self._by_model[model][idx]
