"""Pure pricing: which rates are in force for a model at a time, and what a record costs.

Money is integer nano-USD. Rates are Decimal USD per million tokens, so one token at
$1/M costs 1,000 nano-USD. Each record's cost is summed in Decimal and rounded once.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, Inexact, localcontext
from operator import attrgetter

from billing.pricing.classes import FEE_CLASSES, RATE_CLASSES
from billing.pricing.models import ModelAlias, ModelPrice, PricesVersion
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
    are. Raises Unpriced for a tier / speed / tool the model has no rate for.

    Computed in integers (price_counts), equal to the Decimal definition _reference_cost."""
    return Cost(*price_counts(
        rates, _token_counts(tokens), None if tools is None else _tool_counts(tools),
        batch=batch, service_tier=service_tier, speed=speed, long_context=long_context, when=when,
        regional=regional))


# a Tokens' / Tools' counts in the order price_counts takes them (RATE_CLASSES, FEE_CLASSES)
_token_counts = attrgetter(*RATE_CLASSES)
_tool_counts = attrgetter(*FEE_CLASSES)


def _reference_cost(
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
    """cost() in Decimal, as it was computed before the integer path: the definition the
    integer path is proven equal to (tests/pricing/test_fast_cost.py), and what it falls back
    to where it cannot prove the result exact (see _Situation)."""
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


# --- The integer path -------------------------------------------------------------------
# A record's cost is a dot product of its token counts with integer rates, then one
# rounding. The rates, discount and multipliers of one situation (model price row × batch ×
# tier × speed × long context × region × peak) are turned into integers once, at the
# smallest power of ten that holds them exactly (_Situation), and memoized on the Rates
# object (so per price book). The result equals _reference_cost exactly:
# - _reference_cost multiplies and adds exact decimals and rounds once, half to even
#   (money.to_nano); here the same products are exact integers over a power of ten, and
#   _round_half_even rounds the same way;
# - Decimal arithmetic rounds an intermediate past the context's 28 significant digits.
#   A situation bounds every intermediate by (all tokens) × `per_token`; a record past
#   `max_tokens` (far beyond any real bill: ~10^18 nano-USD), or with counts that are not
#   non-negative integers, is priced by _reference_cost itself, as is a situation whose
#   rates are not finite non-negative decimals.

_DECIMAL_DIGITS = 28  # decimal's default context precision, which _reference_cost runs in


def _places(value) -> int | None:
    """Decimal places `value` needs (Decimal("0.375000") -> 3), None if it is no finite
    non-negative decimal (the integer path then leaves it to _reference_cost)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        return None
    if (isinstance(value, Decimal) and not value.is_finite()) or value < 0:
        return None
    numerator, denominator = value.as_integer_ratio()
    places = 0
    while (numerator * 10**places) % denominator:
        places += 1
    return places


def _scaled(value, places: int) -> int:
    """`value` × 10^places, exactly (places >= _places(value))."""
    numerator, denominator = value.as_integer_ratio()
    return numerator * 10**places // denominator


def _round_half_even(numerator: int, power: int) -> int:
    """numerator / 10^power rounded half to even, as money.to_nano rounds."""
    if not power:
        return numerator
    divisor = 10**power
    whole, rest = divmod(numerator, divisor)
    twice = rest * 2
    if twice > divisor or (twice == divisor and whole & 1):
        whole += 1
    return whole


class _Situation:
    """Integer rates of one situation. Nano-USD of a record, before rounding, over
    10^power: cost = S × cost_factor + cache_read × cache_read_factor (the batch
    cache-read correction), no cache = U × no_cache_factor, no batch = S × no_batch_factor,
    where S = Σ tokens × rate and U = (prompt − audio) × input + audio × audio rate +
    output × output rate, with the `rates` integers (USD per M × 10^r)."""

    __slots__ = ("rates", "cost_factor", "cache_read_factor", "cost_power", "no_cache_factor",
                 "no_cache_power", "no_batch_factor", "no_batch_power", "max_tokens")

    @classmethod
    def build(cls, rates: Rates, *, discounted: bool, priority: bool, fast: bool, long_context: bool,
              regional: bool, peak: bool) -> _Situation | None:
        """None: the integer path can't vouch for this situation (_reference_cost prices it)."""
        per = rates.per_class(long_context=long_context, priority=priority)
        with localcontext() as ctx:
            ctx.traps[Inexact] = True  # a constant _reference_cost would round: leave it to it
            try:
                # the same operations, in the same order, as _reference_cost
                multiplier = Decimal(1)
                if fast:
                    multiplier *= rates.fast_multiplier
                if peak:
                    multiplier *= rates.peak_multiplier
                if regional:
                    multiplier *= rates.regional_multiplier
                discount = Decimal(1)
                batch_read = None
                if discounted:
                    discount = Decimal(1) - rates.batch_discount
                    if rates.batch_cache_read is not None:
                        batch_read = rates.batch_cache_read - per["cache_read"] * discount
            except (Inexact, TypeError, ArithmeticError):
                return None
        values = [per[c] for c in RATE_CLASSES]
        if discounted and rates.batch_cache_read is not None:
            values.append(rates.batch_cache_read)
        places = [_places(v) for v in values]
        m, d = _places(multiplier), _places(discount)
        if None in places or m is None or d is None:
            return None
        r = max(places)
        rate_ints = tuple(_scaled(v, r) for v in values[:len(RATE_CLASSES)])
        mu, delta = _scaled(multiplier, m), _scaled(discount, d)
        # batch_read = batch_cache_read − cache_read × discount has at most r + d places
        kappa = 0 if batch_read is None else (1 if batch_read >= 0 else -1) * _scaled(abs(batch_read), r + d)
        self = cls()
        self.rates = rate_ints
        # 1000 nano-USD per token at $1/M: fold the 1000 into the power of ten
        self.cost_factor, self.cost_power = _fold(delta * mu, r + d + m)
        self.cache_read_factor = _fold(kappa * mu, r + d + m)[0]
        self.no_cache_factor, self.no_cache_power = _fold(delta * mu, r + d + m)
        self.no_batch_factor, self.no_batch_power = _fold(mu, r + m)
        # every intermediate of _reference_cost, over its power of ten, is at most
        # (sum of the tokens) × per_token: keep each under 28 digits
        per_token = max(max(rate_ints), 1) * max(delta, 1) * max(mu, 1) + abs(kappa) * max(mu, 1)
        self.max_tokens = (10**_DECIMAL_DIGITS - 1) // per_token
        return self


def _fold(factor: int, power: int) -> tuple[int, int]:
    """factor × 1000 / 10^power as (factor', power') with power' >= 0."""
    shift = min(3, power)
    return factor * 10 ** (3 - shift), power - shift


def _peak_minutes(rates: Rates) -> bytes:
    """is_peak for each minute of the UTC day (it depends on nothing else)."""
    return bytes(rates.is_peak(datetime(2000, 1, 1, m // 60, m % 60)) for m in range(24 * 60))


def _memo(rates: Rates) -> dict:
    """What the integer path keeps per price row (the Rates object; a frozen dataclass keeps
    it beside its fields, outside equality and repr)."""
    memo = rates.__dict__.get("_integer_path")
    if memo is None:
        memo = {}
        object.__setattr__(rates, "_integer_path", memo)
    return memo


# service tier as written -> (priority, discount tier); absent: not a tier any price has
_TIERS: dict = {}


def _tier(service_tier) -> tuple[bool, bool] | None:
    tier = (service_tier or "").lower()
    if tier not in STANDARD_TIERS | PRIORITY_TIERS | DISCOUNT_TIERS:
        return None
    found = (tier in PRIORITY_TIERS, tier in DISCOUNT_TIERS)
    if isinstance(service_tier, str) and len(_TIERS) < 1000:
        _TIERS[service_tier] = found
    return found


def price_counts(
    rates: Rates,
    counts: tuple,
    fee_counts: tuple | None,
    *,
    batch: bool = False,
    service_tier: str = "",
    speed: str = "",
    long_context: bool | None = None,
    when: datetime | None = None,
    regional: bool = False,
) -> tuple[int, int, int, bool, int]:
    """cost() on plain tuples, for writers pricing many records: `counts` in RATE_CLASSES
    order, `fee_counts` in FEE_CLASSES order (or None). Returns the fields of Cost, in order.
    Raises Unpriced as cost() does."""
    priority, discount_tier, fast = _offered(rates, service_tier, speed)
    i, o, cr, w5, w1, w30, w12, a = counts
    try:
        exact = (i | o | cr | w5 | w1 | w30 | w12 | a) >= 0
    except TypeError:
        exact = False
    if not exact:
        return _by_reference(rates, counts, fee_counts, batch, service_tier, speed, long_context, when, regional)
    prompt = i + cr + w5 + w1 + w30 + w12 + a
    if long_context is None:
        long_context = bool(rates.long_context_threshold and prompt > rates.long_context_threshold)
    peak = False
    if rates.peak_hours and rates.peak_multiplier and isinstance(when, datetime):
        memo = _memo(rates)
        minutes = memo.get("peak")
        if minutes is None:
            minutes = memo["peak"] = _peak_minutes(rates)
        moment = when.astimezone(UTC) if when.tzinfo else when
        peak = bool(minutes[moment.hour * 60 + moment.minute])
    situation = _situation(rates, batch=batch, discount_tier=discount_tier, priority=priority, fast=fast,
                           long_context=long_context, regional=regional, peak=peak)
    if situation is None or prompt + o > situation.max_tokens:
        return _by_reference(rates, counts, fee_counts, batch, service_tier, speed, long_context, when, regional)
    fees = _fees_nano(rates, fee_counts) if fee_counts and any(fee_counts) else 0
    return _integer_cost(situation, counts, prompt, fees, long_context)


def price_counts_many(
    rates: Rates,
    rows: list[tuple[tuple, tuple | None]],
    *,
    batch: bool = False,
    service_tier: str = "",
    speed: str = "",
    long_context: bool,
    regional: bool = False,
) -> list[tuple[int, int, int, bool, int]]:
    """price_counts of many (counts, fee counts) rows of one situation, found once: rows
    that aggregate requests (no time of day) and say whether they are long context (a
    console export's rows of one model and scope). Equal to price_counts of each row, and
    raises Unpriced where it would (the situation's, for all rows)."""
    if not rows:
        return []
    priority, discount_tier, fast = _offered(rates, service_tier, speed)
    situation = _situation(rates, batch=batch, discount_tier=discount_tier, priority=priority, fast=fast,
                           long_context=long_context, regional=regional, peak=False)
    limit = -1 if situation is None else situation.max_tokens
    priced = []
    for counts, fee_counts in rows:
        i, o, cr, w5, w1, w30, w12, a = counts
        try:
            prompt = i + cr + w5 + w1 + w30 + w12 + a
            exact = (i | o | cr | w5 | w1 | w30 | w12 | a) >= 0 and prompt + o <= limit
        except TypeError:
            exact = False
        if not exact:
            priced.append(_by_reference(rates, counts, fee_counts, batch, service_tier, speed, long_context, None,
                                        regional))
            continue
        fees = _fees_nano(rates, fee_counts) if fee_counts and any(fee_counts) else 0
        priced.append(_integer_cost(situation, counts, prompt, fees, long_context))
    return priced


def _offered(rates: Rates, service_tier: str, speed: str) -> tuple[bool, bool, bool]:
    """(priority, discount tier, fast) of a record; raises Unpriced when the model has no rate
    for its tier or speed."""
    tier = _TIERS.get(service_tier) or _tier(service_tier)
    if tier is None:
        raise Unpriced(f"{rates.model}: no rate for service tier {service_tier!r}")
    priority, discount_tier = tier
    if priority and rates.priority_input is None:
        raise Unpriced(f"{rates.model}: no {service_tier!r} (priority) rate")
    if discount_tier and rates.batch_discount is None:
        raise Unpriced(f"{rates.model}: no {service_tier!r} rate")
    fast = speed == "fast"
    if fast and not rates.fast_multiplier:
        raise Unpriced(f"{rates.model}: no fast-mode rate")
    return priority, discount_tier, fast


def _situation(rates: Rates, *, batch, discount_tier, priority, fast, long_context, regional,
               peak) -> _Situation | None:
    """The integer rates of a situation, built once per price row and situation."""
    memo = rates.__dict__.get("_integer_path") or _memo(rates)
    key = (bool((batch or discount_tier) and rates.batch_discount), priority, fast, bool(long_context),
           bool(regional and rates.regional_multiplier), peak)
    try:
        return memo[key]
    except KeyError:
        situation = memo[key] = _Situation.build(
            rates, discounted=key[0], priority=priority, fast=fast, long_context=key[3], regional=key[4],
            peak=peak)
        return situation


def _integer_cost(situation: _Situation, counts: tuple, prompt: int, fees: int,
                  long_context: bool) -> tuple[int, int, int, bool, int]:
    i, o, cr, w5, w1, w30, w12, a = counts
    ri, ro, rcr, r5, r1, r30, r12, ra = situation.rates
    full = i * ri + o * ro + cr * rcr + w5 * r5 + w1 * r1 + w30 * r30 + w12 * r12 + a * ra
    uncached = (prompt - a) * ri + a * ra + o * ro
    return (
        _round_half_even(full * situation.cost_factor + cr * situation.cache_read_factor,
                         situation.cost_power) + fees,
        _round_half_even(uncached * situation.no_cache_factor, situation.no_cache_power) + fees,
        _round_half_even(full * situation.no_batch_factor, situation.no_batch_power) + fees,
        long_context,
        fees,
    )


def _fees_nano(rates: Rates, fee_counts: tuple) -> int:
    """Rates.fees_nano in integers (fees are USD per 1,000 requests: 10^6 nano-USD each)."""
    memo = _memo(rates)
    fees = memo.get("fees")
    if fees is None:
        values = [getattr(rates, f"{name}_fee") for name in FEE_CLASSES]
        places = [0 if v is None else _places(v) for v in values]
        if None in places:
            fees = memo["fees"] = False
        else:
            power = max(places)
            fees = memo["fees"] = (tuple(None if v is None else _scaled(v, power) for v in values), power)
    if fees is False:
        return rates.fees_nano(Tools(*fee_counts))
    ints, power = fees
    total = bound = 0
    for name, count, fee in zip(FEE_CLASSES, fee_counts, ints, strict=True):
        if not count:
            continue
        if fee is None:
            raise Unpriced(f"{rates.model}: no {name.replace('_', ' ')} price")
        if not isinstance(count, int):
            return rates.fees_nano(Tools(*fee_counts))
        total += count * fee
        bound += abs(count) * fee
    if bound >= 10**_DECIMAL_DIGITS:
        return rates.fees_nano(Tools(*fee_counts))
    return _round_half_even(total * 10**6, power)


def _by_reference(rates, counts, fee_counts, batch, service_tier, speed, long_context, when, regional):
    priced = _reference_cost(Tokens(*counts), rates, batch=batch, service_tier=service_tier, speed=speed,
                             long_context=long_context, when=when,
                             tools=None if fee_counts is None else Tools(*fee_counts), regional=regional)
    return priced.cost_nano, priced.no_cache_nano, priced.no_batch_nano, priced.long_context, priced.fees_nano


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
    """All prices and aliases in memory, looked up per record. `current()`: the process's
    book, loaded again only when the price tables changed."""

    # (PricesVersion.version, the book loaded at it) of this process
    _current: tuple[int, PriceBook] | None = None
    version: int | None = None  # what current() loaded it at

    def __init__(self, prices: list[Rates], aliases: dict[str, str]):
        self._by_model: dict[str, list[Rates]] = {}
        for rates in sorted(prices, key=lambda r: (r.model, r.effective_from)):
            self._by_model.setdefault(rates.model, []).append(rates)
        self._starts = {m: [r.effective_from for r in rs] for m, rs in self._by_model.items()}
        self._aliases = {k.strip().lower(): v for k, v in aliases.items()}
        self._resolved: dict[str, str | None] = {}  # a batch repeats a few model names
        self._regional: dict[tuple[str, str], bool] = {}

    @classmethod
    def load(cls) -> PriceBook:
        prices = [Rates.from_price(p) for p in ModelPrice.objects.all()]
        aliases = dict(ModelAlias.objects.values_list("alias", "model"))
        return cls(prices, aliases)

    @classmethod
    def current(cls) -> PriceBook:
        """The book of the price rows as this connection sees them now, kept per process
        while PricesVersion stays (one one-row read a call; loading the book was 7 µs an
        event of a 1,000-event ingest batch). The version is read before the rows, so a
        book is never older than the version it is kept under."""
        version = PricesVersion.objects.values_list("version", flat=True).first()
        cached = cls._current
        if cached is not None and version is not None and cached[0] == version:
            return cached[1]
        book = cls.load()
        book.version = version
        if version is not None:  # None: the row is gone (a flushed test database)
            cls._current = (version, book)
        return book

    def resolve(self, name: str) -> str | None:
        """The canonical model id a name prices as, or None if no price exists."""
        if name not in self._resolved:
            self._resolved[name] = self._lookup(name)
        return self._resolved[name]

    def is_regional(self, model: str, region: str = "") -> bool:
        """is_regional, remembered per (model, region): a batch repeats a few."""
        key = (model, region)
        try:
            return self._regional[key]
        except KeyError:
            found = self._regional[key] = is_regional(model, region)
            return found

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
