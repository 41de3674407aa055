"""Explain a change in spend: volume, mix, price and caching/batch effects that add up
exactly to the change.

Each (model, feature) cell of a period costs

    cost = T × Σ_g a_g × ρ_g × K

T: all tokens of the period (prompt + output); a_g = the cell's tokens of class group g
(prompt, output) / T: the mix across models, features and token classes; ρ_g = the cell's
list cost per token of g (uncached input or output rate, no batch discount, from the price
book in force each day): the price; K = what the cell paid / its list cost: caching and
batch (and the other request-level rules: long context, priority). The product is the cell's
actual cost exactly.

The change between two periods is split with the Shapley decomposition over these four
factors: each factor's effect is its marginal contribution averaged over every order of
switching the factors from the previous period's value to the current one. Unlike a chained
(sequential substitution) decomposition the result does not depend on an arbitrary factor
order, and no residual "interaction" term is left over: the four effects add up to the
change. It is computed in exact fractions and rounded to nano-USD with the largest-remainder
rule, so the rounded effects still add up to the change to the nano.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import product
from math import factorial, floor

from billing.pricing.classes import PROMPT_COLUMNS
from costwatch.tenant.models import Project
from usage.models import DailyModelUsage
from usage.reports.queries import SpendQuery, default_ledger, grouped, price_book

FACTORS = ("volume", "mix", "price", "caching")
GROUPS = ("prompt", "output")
NANO_PER_TOKEN_AT_1_PER_M = 1000


@dataclass
class Cell:
    """One (model, feature) of one period."""

    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0))
    list_nano: dict[str, Fraction] = field(default_factory=lambda: dict.fromkeys(GROUPS, Fraction(0)))
    cost_nano: int = 0


@dataclass
class PeriodData:
    cells: dict[tuple[str, str], Cell]
    unpriced_records: int = 0

    @property
    def cost_nano(self) -> int:
        return sum(c.cost_nano for c in self.cells.values())

    @property
    def tokens(self) -> int:
        return sum(sum(c.tokens.values()) for c in self.cells.values())


def period_data(rows: Iterable[dict], rates_at) -> PeriodData:
    """Cells from rollup rows grouped by (day, model, feature). `rates_at(model, day)` is the
    price book's lookup (the one ingest prices with); None for a model without a price."""
    cells: dict[tuple[str, str], Cell] = {}
    unpriced = 0
    for row in rows:
        unpriced += row.get("unpriced_records", 0)
        if not row["cost_nano"] and row.get("unpriced_records"):
            continue  # tokens nobody could price would only dilute the volume and mix
        cell = cells.setdefault((row["model"], row["feature"] or ""), Cell())
        prompt = sum(row[c] for c in PROMPT_COLUMNS)
        output = row["output_tokens"]
        cell.tokens["prompt"] += prompt
        cell.tokens["output"] += output
        cell.cost_nano += row["cost_nano"]
        rates = rates_at(row["model"], row["day"])
        if rates is not None:
            per = rates.per_class()
            cell.list_nano["prompt"] += Fraction(per["input"]) * prompt * NANO_PER_TOKEN_AT_1_PER_M
            cell.list_nano["output"] += Fraction(per["output"]) * output * NANO_PER_TOKEN_AT_1_PER_M
    return PeriodData(cells=cells, unpriced_records=unpriced)


@dataclass
class _Factors:
    """The four factors of one cell in one period (None where the period has no basis)."""

    share: dict[str, Fraction]
    rate: dict[str, Fraction | None]
    paid: Fraction | None
    fixed: int  # cost without any tokens (fees only): counted as mix


def _factors(cell: Cell | None, total_tokens: int) -> _Factors:
    if cell is None:
        return _Factors(dict.fromkeys(GROUPS, Fraction(0)), dict.fromkeys(GROUPS), None, 0)
    tokens = sum(cell.tokens.values())
    if tokens == 0:
        return _Factors(dict.fromkeys(GROUPS, Fraction(0)), dict.fromkeys(GROUPS), None, cell.cost_nano)
    share = {g: Fraction(cell.tokens[g], total_tokens) for g in GROUPS}
    listed = sum(cell.list_nano.values())
    if listed == 0:
        # No list price (a $0 custom model, or a cost without a rate): what was paid is
        # the price, nothing is discounted.
        per_token = Fraction(cell.cost_nano, tokens)
        rate = {g: per_token if cell.tokens[g] else None for g in GROUPS}
        return _Factors(share, rate, Fraction(1), 0)
    rate = {g: cell.list_nano[g] / cell.tokens[g] if cell.tokens[g] else None for g in GROUPS}
    return _Factors(share, rate, Fraction(cell.cost_nano) / listed, 0)


def _cell_values(prev: _Factors, cur: _Factors, volume: tuple[int, int]) -> dict[tuple, Fraction]:
    """The cell's cost for each of the 16 choices of (volume, mix, price, caching), each
    factor from the previous (0) or current (1) period. A factor missing in one period
    (the cell did not exist, or had no tokens of a class) takes the other period's value,
    so a new cell shows up as mix, not as a price change."""
    rate = {g: ((prev.rate[g] if prev.rate[g] is not None else cur.rate[g]),
                (cur.rate[g] if cur.rate[g] is not None else prev.rate[g])) for g in GROUPS}
    one = Fraction(1)
    paid = (prev.paid if prev.paid is not None else (cur.paid if cur.paid is not None else one),
            cur.paid if cur.paid is not None else (prev.paid if prev.paid is not None else one))
    share = {g: (prev.share[g], cur.share[g]) for g in GROUPS}
    fixed = (prev.fixed, cur.fixed)
    out = {}
    for choice in product((0, 1), repeat=4):
        v, m, p, k = choice
        value = Fraction(fixed[m])
        for g in GROUPS:
            if rate[g][p] is not None:
                value += volume[v] * share[g][m] * rate[g][p] * paid[k]
        out[choice] = value
    return out


def shapley(values: dict[tuple, Fraction]) -> dict[str, Fraction]:
    """Shapley value of each factor for f given on every on/off choice of the factors."""
    n = len(FACTORS)
    out = {}
    for j, name in enumerate(FACTORS):
        total = Fraction(0)
        for choice, value in values.items():
            if choice[j] == 0:
                continue
            without = choice[:j] + (0,) + choice[j + 1:]
            s = sum(choice) - 1  # factors switched on besides j
            weight = Fraction(factorial(s) * factorial(n - s - 1), factorial(n))
            total += weight * (value - values[without])
        out[name] = total
    return out


def round_to(parts: dict[str, Fraction], total: int) -> dict[str, int]:
    """Integers that add up to `total` (the exact sum of parts), each within 1 of its part:
    floor everything, then give the remaining units to the largest fractional parts."""
    floors = {k: floor(v) for k, v in parts.items()}
    left = total - sum(floors.values())
    order = sorted(parts, key=lambda k: (-(parts[k] - floors[k]), FACTORS.index(k)))
    for k in order[:left]:
        floors[k] += 1
    return floors


@dataclass
class Contribution:
    key: str
    previous_nano: int
    current_nano: int
    effects: dict[str, int]

    @property
    def change_nano(self) -> int:
        return self.current_nano - self.previous_nano


@dataclass
class Explanation:
    previous_nano: int
    current_nano: int
    effects: dict[str, int]
    by_model: list[Contribution]
    by_feature: list[Contribution]
    previous_tokens: int
    current_tokens: int
    unpriced_records: int

    @property
    def change_nano(self) -> int:
        return self.current_nano - self.previous_nano


def explain(previous: PeriodData, current: PeriodData) -> Explanation:
    """Split current − previous spend into the four effects, in total, per model, per feature."""
    t_prev, t_cur = previous.tokens, current.tokens
    volume = (t_prev, t_cur)
    per_cell: dict[tuple[str, str], dict[str, Fraction]] = {}
    for key in sorted(set(previous.cells) | set(current.cells)):
        prev = _factors(previous.cells.get(key), t_prev)
        cur = _factors(current.cells.get(key), t_cur)
        if t_prev == 0:
            prev.share = dict(cur.share)  # nothing before: the whole change is volume
        if t_cur == 0:
            cur.share = dict(prev.share)
        per_cell[key] = shapley(_cell_values(prev, cur, volume))

    def grouped(index: int) -> list[Contribution]:
        sums: dict[str, dict[str, Fraction]] = {}
        costs: dict[str, list[int]] = {}
        for key, effects in per_cell.items():
            name = key[index]
            acc = sums.setdefault(name, dict.fromkeys(FACTORS, Fraction(0)))
            for f in FACTORS:
                acc[f] += effects[f]
            c = costs.setdefault(name, [0, 0])
            c[0] += previous.cells[key].cost_nano if key in previous.cells else 0
            c[1] += current.cells[key].cost_nano if key in current.cells else 0
        out = [Contribution(name, prev, cur, round_to(sums[name], cur - prev))
               for name, (prev, cur) in costs.items()]
        out.sort(key=lambda c: (-abs(c.change_nano), c.key))
        return out

    totals = dict.fromkeys(FACTORS, Fraction(0))
    for effects in per_cell.values():
        for f in FACTORS:
            totals[f] += effects[f]
    change = current.cost_nano - previous.cost_nano
    return Explanation(
        previous_nano=previous.cost_nano,
        current_nano=current.cost_nano,
        effects=round_to(totals, change),
        by_model=grouped(0),
        by_feature=grouped(1),
        previous_tokens=t_prev,
        current_tokens=t_cur,
        unpriced_records=previous.unpriced_records + current.unpriced_records,
    )


LABELS = {"volume": "volume", "mix": "mix", "price": "prices", "caching": "caching/batch"}


def leading(result: Explanation) -> tuple[str, Contribution | None] | None:
    """The largest effect and the model or feature that contributes most to it."""
    if not result.change_nano and not any(result.effects.values()):
        return None
    name = max(FACTORS, key=lambda f: (abs(result.effects[f]), -FACTORS.index(f)))
    rows = [c for c in result.by_model + result.by_feature if c.effects[name]]
    sign = 1 if result.effects[name] >= 0 else -1
    top = max(rows, key=lambda c: sign * c.effects[name], default=None)
    return name, top


# --- periods and the rollup read ---------------------------------------------------------

def month_period(value: str) -> tuple[date, date]:
    """"YYYY-MM" -> its first and last day; ValueError naming what was expected."""
    try:
        year, month = (int(p) for p in value.split("-"))
        start = date(year, month, 1)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected YYYY-MM, got {value!r}") from exc
    return start, start.replace(day=calendar.monthrange(year, month)[1])


def compare_periods(*, start: date, end: date, today: date, month: bool = False,
                    compare_start: date | None = None, compare_end: date | None = None
                    ) -> tuple[tuple[date, date], tuple[date, date]]:
    """(current, previous) periods. A month that is still running counts to today and is
    compared with the same days of the compared month (month to date, like the Overview);
    without an explicit comparison the previous period is the previous month (for a month)
    or the same number of days just before."""
    if start <= today <= end:
        end = today
    if compare_start is None:
        if month:
            compare_start = (start - timedelta(days=1)).replace(day=1)
        else:
            compare_start = start - timedelta(days=(end - start).days + 1)
    if compare_end is None:
        if month:
            last = compare_start.replace(day=calendar.monthrange(compare_start.year, compare_start.month)[1])
            compare_end = min(last, compare_start + timedelta(days=(end - start).days))
        else:
            compare_end = compare_start + timedelta(days=(end - start).days)
    return (start, end), (compare_start, compare_end)


def explain_spend(q: SpendQuery, *, compare_start: date, compare_end: date) -> tuple[Explanation, str]:
    """The explanation of q's period against [compare_start, compare_end] on q's ledger (or
    the current period's default one), with q's filters on both."""
    ledger = q.ledger or default_ledger(q.project, q.start, q.end)
    book = price_book()
    current = replace(q, ledger=ledger, group_by=["day", "model", "feature"])
    previous = replace(current, start=compare_start, end=compare_end)
    result = explain(period_data(grouped(previous), book.rates_at),
                     period_data(grouped(current), book.rates_at))
    return result, ledger


def sentence(result: Explanation, *, previous_label: str, top: int | None = None) -> str:
    """One line for people: the change, then the effects, largest first, with the model or
    feature that drives the largest one."""
    change = result.change_nano
    if not result.previous_nano and not result.current_nano:
        return "No spend in either period."
    word = "Up" if change > 0 else "Down" if change < 0 else "Unchanged"
    head = f"{word} {_usd(abs(change))} vs {previous_label}" if change else f"Unchanged vs {previous_label}"
    parts = [f"{LABELS[f]} {_usd(result.effects[f], signed=True)}"
             for f in sorted(FACTORS, key=lambda f: -abs(result.effects[f])) if result.effects[f]][:top]
    lead = leading(result)
    driver = ""
    if lead and lead[1] is not None:
        name, top = lead
        driver = f"; most of the {LABELS[name]} effect is {top.key or '(none)'} ({_usd(top.effects[name], signed=True)})"
    return f"{head}: " + ", ".join(parts) + driver + "." if parts else head + "."


def _usd(nano: int, *, signed: bool = False) -> str:
    dollars = Decimal(abs(nano)) / 1_000_000_000
    text = f"${dollars:,.2f}"
    if signed:
        return ("−" if nano < 0 else "+") + text
    return text


def month_why(project: Project, *, ledger: str, dims: dict, month: dict) -> str:
    """The Overview's one line under month to date: this month so far against the same days
    of last month (the card's own comparison; `month` is usage.reports.queries.month_summary())."""
    if not DailyModelUsage.objects.filter(project=project, ledger=ledger, day__gte=month["prev_start"],
                                          day__lte=month["today"]).exists():
        return ""
    q = SpendQuery(project=project, start=month["month_start"], end=month["today"], ledger=ledger,
                   filters=dict(dims))
    result, _ = explain_spend(q, compare_start=month["prev_start"], compare_end=month["prev_end"])
    return sentence(result, previous_label=f"{month['prev_start']:%b %-d}–{month['prev_end']:%b %-d}", top=2)
