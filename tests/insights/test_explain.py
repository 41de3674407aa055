"""The explain decomposition: hand-computed cases and the exact-sum property on random data."""

import random
from datetime import date, timedelta
from decimal import Decimal

from billing.pricing.classes import PROMPT_COLUMNS
from usage.insights.explain import FACTORS, compare_periods, explain, month_period, period_data

D1 = date(2026, 3, 1)
NANO = 1_000_000_000


class FakeRates:
    def __init__(self, inp, out):
        self.inp, self.out = Decimal(inp), Decimal(out)

    def per_class(self):
        return {"input": self.inp, "output": self.out, "cache_read": self.inp / 10,
                "cache_write_5m": self.inp * Decimal("1.25"), "cache_write_1h": self.inp * 2}


def row(model="m", feature="f", day=D1, prompt=0, output=0, cost=0, unpriced=0, cache_read=0):
    return {"day": day, "model": model, "feature": feature, **dict.fromkeys(PROMPT_COLUMNS, 0),
            "input_tokens": prompt, "cache_read_tokens": cache_read,
            "output_tokens": output, "cost_nano": cost, "unpriced_records": unpriced}


def book(prices):
    """prices: {model: (input $/M, output $/M)} or {model: callable(day)}."""
    def rates_at(model, day):
        p = prices.get(model)
        if p is None:
            return None
        return FakeRates(*(p(day) if callable(p) else p))
    return rates_at


def test_more_tokens_at_the_same_prices_is_all_volume():
    rates = book({"m": (3, 15)})
    prev = period_data([row(prompt=1_000_000, cost=3 * NANO)], rates)
    cur = period_data([row(prompt=2_000_000, cost=6 * NANO)], rates)
    r = explain(prev, cur)
    assert r.change_nano == 3 * NANO
    assert r.effects == {"volume": 3 * NANO, "mix": 0, "price": 0, "caching": 0}


def test_volume_up_and_price_cut_split_their_interaction_evenly():
    # prev 1M at $3 = $3; cur 2M at $2 = $4. f(v,p): (0,0)=3 (1,0)=6 (0,1)=2 (1,1)=4
    # volume = ½[(6−3)+(4−2)] = 2.5; price = ½[(2−3)+(4−6)] = −1.5
    rates = book({"m": lambda day: (3, 15) if day < date(2026, 4, 1) else (2, 10)})
    prev = period_data([row(prompt=1_000_000, cost=3 * NANO)], rates)
    cur = period_data([row(day=date(2026, 4, 1), prompt=2_000_000, cost=4 * NANO)], rates)
    r = explain(prev, cur)
    assert r.effects == {"volume": 2_500_000_000, "mix": 0, "price": -1_500_000_000, "caching": 0}


def test_shift_to_a_cheaper_model_at_equal_volume_is_mix():
    rates = book({"big": (10, 10), "small": (1, 1)})
    prev = period_data([row(model="big", prompt=1_000_000, cost=10 * NANO),
                        row(model="small", prompt=1_000_000, cost=1 * NANO)], rates)
    cur = period_data([row(model="small", prompt=2_000_000, cost=2 * NANO)], rates)
    r = explain(prev, cur)
    assert r.effects == {"volume": 0, "mix": -9 * NANO, "price": 0, "caching": 0}
    by_model = {c.key: c for c in r.by_model}
    assert by_model["big"].effects["mix"] == -10 * NANO
    assert by_model["small"].effects["mix"] == 1 * NANO


def test_paying_less_per_list_dollar_is_caching():
    # same tokens and list price ($3), but half was read from cache / batched: $3 -> $1.50
    rates = book({"m": (3, 15)})
    prev = period_data([row(prompt=1_000_000, cost=3 * NANO)], rates)
    cur = period_data([row(prompt=1_000_000, cost=1_500_000_000)], rates)
    assert explain(prev, cur).effects == {"volume": 0, "mix": 0, "price": 0, "caching": -1_500_000_000}


def test_a_new_model_is_mix_not_price_and_unpriced_rows_are_left_out():
    rates = book({"m": (3, 15), "new": (1, 5)})
    prev = period_data([row(prompt=2_000_000, cost=6 * NANO)], rates)
    cur = period_data([row(prompt=1_000_000, cost=3 * NANO), row(model="new", prompt=1_000_000, cost=NANO),
                       row(model="mystery", prompt=5_000_000, cost=0, unpriced=7)], rates)
    r = explain(prev, cur)
    assert r.unpriced_records == 7
    assert r.current_tokens == 2_000_000
    assert r.effects == {"volume": 0, "mix": -2 * NANO, "price": 0, "caching": 0}


def test_month_periods():
    assert month_period("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    # a running month: to today, against the same days of the month before
    cur, prev = compare_periods(start=date(2026, 3, 1), end=date(2026, 3, 31), today=date(2026, 3, 14), month=True)
    assert cur == (date(2026, 3, 1), date(2026, 3, 14)) and prev == (date(2026, 2, 1), date(2026, 2, 14))
    # a week against the week before
    cur, prev = compare_periods(start=date(2026, 3, 2), end=date(2026, 3, 8), today=date(2026, 4, 1))
    assert prev == (date(2026, 2, 23), date(2026, 3, 1))


def test_effects_add_up_to_the_change_to_the_nano_on_random_data():
    rng = random.Random(15)
    models = ["a", "b", "c", "free", "gone"]
    for _ in range(300):
        prices = {"a": (rng.choice([3, 2.5, 1]), 15), "b": (0.8, 4), "c": (rng.choice([10, 5]), 50),
                  "free": (0, 0)}
        rates = book({m: (Decimal(str(p[0])), Decimal(p[1])) for m, p in prices.items()})

        def period(day0, rng=rng, rates=rates):
            rows = []
            for i in range(rng.randrange(0, 12)):
                model = rng.choice(models)
                rows.append(row(model=model, feature=rng.choice(["x", "y", ""]),
                                day=day0 + timedelta(days=i % 5), prompt=rng.randrange(0, 10**7),
                                output=rng.choice([0, rng.randrange(0, 10**6)]),
                                cost=rng.randrange(0, 10**11),
                                unpriced=1 if model == "gone" and rng.random() < 0.5 else 0))
            return period_data(rows, rates)

        prev, cur = period(D1), period(D1 + timedelta(days=30))
        r = explain(prev, cur)
        assert all(isinstance(v, int) for v in r.effects.values())
        assert sum(r.effects.values()) == r.change_nano == cur.cost_nano - prev.cost_nano
        for rows in (r.by_model, r.by_feature):
            assert sum(c.change_nano for c in rows) == r.change_nano
            for c in rows:
                assert sum(c.effects[f] for f in FACTORS) == c.change_nano
