"""cost() prices in integers (billing.pricing.rates.price_counts); _reference_cost is the
Decimal computation it replaced, kept beside it in rates.py as the definition (and as the
fallback for what the integer path can't vouch for). Here the two must agree exactly, Unpriced
errors included: for every price row of the catalog × every situation, for random token
vectors and tool counts, and for random price rows with odd decimals and huge magnitudes."""

from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from itertools import product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.pricing.models import ModelPrice
from billing.pricing.rates import (
    Rates,
    Tokens,
    Tools,
    Unpriced,
    _reference_cost,
    cost,
    price_counts,
    price_counts_many,
)

TIERS = ["", "default", "auto", "standard", "priority", "fast", "flex", "batch", "Priority", "scale", None]
TZ = timezone(timedelta(hours=-5, minutes=-30))


def outcome(price, tokens, rates, **kw):
    try:
        return price(tokens, rates, **kw)
    except Unpriced as exc:
        return f"Unpriced: {exc}"


def assert_same(tokens, rates, **kw):
    expected = outcome(_reference_cost, tokens, rates, **kw)
    assert outcome(cost, tokens, rates, **kw) == expected, (tokens, rates, kw)
    return expected


def catalog() -> list[Rates]:
    return [Rates.from_price(p) for p in ModelPrice.objects.all()]


@pytest.mark.django_db
def test_every_catalog_price_in_every_situation():
    # a prompt with every class, past every long-context threshold when `big`
    small = Tokens(input=1234, output=567, cache_read=8901, cache_write_5m=234, cache_write_1h=56,
                   cache_write_30m=78, cache_write_12h=90, audio_input=12)
    big = Tokens(input=180_001, output=3, cache_read=100_000, cache_write_5m=1, audio_input=7)
    # peak windows in the catalog: "01-04,06-10", "16:30-00:30" (UTC); 11:59 at -05:30 is 17:29 UTC
    moments = [None, datetime(2026, 11, 2, 2, 30, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC),
               datetime(2026, 11, 2, 11, 59, tzinfo=TZ)]
    priced = unpriced = 0
    for rates in catalog():
        for tokens, batch, tier, speed, long_context, when, regional, tools in product(
            [small, big], [False, True], ["", "priority", "flex", "batch", "scale"], ["", "fast"],
            [None, True, False], moments, [False, True], [None, Tools(web_search=2, web_fetch=1), Tools(grounding=1)],
        ):
            result = assert_same(tokens, rates, batch=batch, service_tier=tier, speed=speed,
                                 long_context=long_context, when=when, regional=regional, tools=tools)
            if isinstance(result, str):
                unpriced += 1
            else:
                priced += 1
    assert priced > 30_000 and unpriced > 30_000  # both outcomes were compared, at scale


counts = st.one_of(st.integers(0, 10**15), st.integers(0, 10**6), st.just(0))
tokens_st = st.builds(Tokens, *[counts] * 8)
tools_st = st.one_of(st.none(), st.builds(Tools, *[st.integers(0, 20)] * 4))
moments_st = st.one_of(
    st.none(), st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, TZ, timezone(timedelta(hours=8))])),
    st.datetimes(),  # naive
)
situation = {
    "batch": st.booleans(), "service_tier": st.sampled_from(TIERS), "speed": st.sampled_from(["", "fast", "slow"]),
    "long_context": st.sampled_from([None, True, False]), "when": moments_st, "tools": tools_st,
    "regional": st.booleans(),
}


@pytest.mark.django_db
def test_random_tokens_on_catalog_prices():
    prices = catalog()

    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rates=st.sampled_from(prices), tokens=tokens_st, **situation)
    def check(rates, tokens, **kw):
        assert_same(tokens, rates, **kw)

    check()


def decimals(places=9, top=10**8):
    return st.decimals(min_value=0, max_value=top, places=places, allow_nan=False, allow_infinity=False)


def optional(strategy):
    return st.one_of(st.none(), strategy)


multiplier = optional(st.one_of(st.sampled_from([Decimal("1.1"), Decimal("2"), Decimal("0.25"), Decimal(0)]),
                                decimals(3, 999)))
odd_rates = st.builds(
    Rates, model=st.just("odd"), provider=st.just("x"), effective_from=st.just(date(2026, 1, 1)),
    input=decimals(), output=st.one_of(decimals(), st.sampled_from([Decimal(-1), 3])),
    cache_read=optional(decimals()), cache_write_5m=optional(decimals(6)), cache_write_1h=optional(decimals(6)),
    cache_write_30m=optional(decimals(2)), cache_write_12h=optional(decimals(2)), audio_input=optional(decimals()),
    batch_discount=optional(st.one_of(st.sampled_from([Decimal("0.5"), Decimal(0), Decimal(1), Decimal("1.5")]),
                                      decimals(4, 1))),
    long_context_threshold=optional(st.integers(0, 10**6)), lc_input=optional(decimals()),
    lc_output=optional(decimals()), lc_cache_read=optional(decimals()), lc_cache_write_1h=optional(decimals()),
    priority_input=optional(decimals()), priority_output=optional(decimals()),
    priority_cache_read=optional(decimals()), fast_multiplier=multiplier, batch_cache_read=optional(decimals()),
    peak_hours=st.sampled_from(["", "01-04,06-10", "16:30-00:30", "00-24"]), peak_multiplier=multiplier,
    web_search_fee=optional(decimals(4, 10**5)), web_fetch_fee=optional(st.just(Decimal(0))),
    file_search_fee=optional(decimals(4, 10**5)), grounding_fee=optional(decimals(4)),
    regional_multiplier=multiplier,
)


@settings(max_examples=500, deadline=None)
@given(rates=odd_rates, tokens=st.one_of(tokens_st, st.builds(Tokens, *[st.integers(-10, 10**15)] * 8)),
       **situation)
def test_odd_prices_and_magnitudes(rates, tokens, **kw):
    """Rates with up to 9 decimals, multipliers up to 999.999, negative rates and counts:
    where Decimal rounds an intermediate to 28 digits the integer path hands over to it."""
    assert_same(tokens, rates, **kw)


def priced_each(rates, rows, **kw):
    try:
        return [price_counts(rates, counts, fees, **kw) for counts, fees in rows]
    except Unpriced as exc:
        return f"Unpriced: {exc}"


def priced_together(rates, rows, **kw):
    try:
        return price_counts_many(rates, rows, **kw)
    except Unpriced as exc:
        return f"Unpriced: {exc}"


rows_st = st.lists(st.tuples(st.one_of(tokens_st, st.builds(Tokens, *[st.integers(-10, 10**15)] * 8)),
                             tools_st), max_size=6)
together = {k: v for k, v in situation.items() if k not in {"when", "tools"}} | {
    "long_context": st.booleans()}


@settings(max_examples=500, deadline=None)
@given(rates=odd_rates, rows=rows_st, **together)
def test_many_rows_of_one_situation_price_as_each_alone(rates, rows, **kw):
    """price_counts_many (an import's rows of one model and scope, the situation found once)
    gives price_counts' result for every row, Unpriced included, and so the Decimal one."""
    rows = [(astuple(tokens), None if tools is None else astuple(tools)) for tokens, tools in rows]
    each = priced_each(rates, rows, **kw)
    assert priced_together(rates, rows, **kw) == each
    if not isinstance(each, str):
        tools = [None if fees is None else Tools(*fees) for _, fees in rows]
        assert [(c.cost_nano, c.no_cache_nano, c.no_batch_nano, c.long_context, c.fees_nano)
                for c in (_reference_cost(Tokens(*counts), rates, tools=t, **kw)
                          for (counts, _), t in zip(rows, tools, strict=True))] == each


def test_past_28_digits_cost_is_the_decimal_result_not_the_exact_one():
    """A price row no catalog has, at the counts' bound: _reference_cost rounds its
    intermediates to 28 significant digits, so exact integer arithmetic would differ."""
    rate = Decimal("99999999.999999")
    rates = Rates(model="huge", provider="x", effective_from=date(2026, 1, 1), input=rate, output=rate,
                  fast_multiplier=Decimal("999.999"), regional_multiplier=Decimal("999.999"))
    tokens = Tokens(input=10**15 - 1, output=10**15 - 3)
    got = cost(tokens, rates, speed="fast", regional=True)
    exact = Fraction(2 * 10**15 - 4) * Fraction(rate) * 1000 * Fraction(Decimal("999.999")) ** 2
    assert got.cost_nano != round(exact)  # the Decimal path is not exact here…
    assert got == _reference_cost(tokens, rates, speed="fast", regional=True)  # …and cost() is that path


def test_integer_path_rounds_once_half_to_even():
    """By hand: 1,000,001 tokens at $0.00375/M in batch (50 % off) in a region (×1.1) is
    3,750,003.75 × 0.55 = 2,062,502.0625 nano-USD → 2,062,502; at $0.0005/M one output token
    is 0.5 nano-USD: 1 token → 0, 3 → 2 (1.5), 5 → 2 (2.5, half to even)."""
    rates = Rates(model="m", provider="x", effective_from=date(2026, 1, 1), input=Decimal("0.00375"),
                  output=Decimal("0.0005"), regional_multiplier=Decimal("1.1"))
    assert cost(Tokens(input=1_000_001), rates, batch=True, regional=True).cost_nano == 2_062_502
    assert [cost(Tokens(output=n), rates).cost_nano for n in (1, 3, 5)] == [0, 2, 2]
