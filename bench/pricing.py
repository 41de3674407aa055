"""Pricing benchmark: µs per record to price N realistic records (default 1,000,000)
through usage.ingest.apply_price, as build_row calls it, against the Decimal path it
replaced (billing.pricing.rates._reference_cost, called the way apply_price called cost()
before the integer path), in the same run. Every record's costs and the totals are
asserted equal between the two paths.

    .venv/bin/python bench/pricing.py [--records 1000000] [--seed 13]

The records mix Anthropic / OpenAI / Gemini / DeepSeek models with cache reads and 5m / 1h
/ 30m / 12h writes, audio, batch and flex, priority and fast mode, long-context prompts,
web search / file search / grounding fees, regional endpoints, peak hours, aggregate
console rows (requests > 1, a context-window label), cost-only rows, unknown models and
unknown tiers. Prices are the shipped catalog (billing/pricing/data/prices.csv) with the
decimal places the database gives them; no database is used. As the floor in the same
run: reading each row's pricing inputs (the two attrgetters apply_price starts with).
Times are the process's CPU time (time.process_time; the machine is shared, so wall
clock is printed beside it).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "costwatch.settings")

import django  # noqa: E402

django.setup()

from billing.pricing.catalog import read_aliases, read_prices  # noqa: E402
from billing.pricing.classes import COST_COLUMNS, FEE_CLASSES, PRICED_COLUMNS, rate_class  # noqa: E402
from billing.pricing.models import ModelPrice  # noqa: E402
from billing.pricing.rates import (  # noqa: E402
    RATE_FIELDS,
    PriceBook,
    Rates,
    Tokens,
    Tools,
    Unpriced,
    _reference_cost,
    is_regional,
)
from usage.ingest import Row, _counts, _fee_counts, apply_price, set_billed  # noqa: E402

CHUNK = 2000  # usage.ingest.CHUNK: records are built and priced a chunk at a time
OUTCOME = [*COST_COLUMNS, "long_context", "priced_model", "provider"]


def catalog_book() -> PriceBook:
    """PriceBook.load() without a database: the shipped rows, each decimal at the places its
    ModelPrice column gives it (as SQLite and PostgreSQL return them)."""
    prices = []
    for row in read_prices():
        values = {f: row[f] for f in RATE_FIELDS if f in row}
        for name, value in values.items():
            if isinstance(value, Decimal):
                places = ModelPrice._meta.get_field(name).decimal_places
                values[name] = value.quantize(Decimal(1).scaleb(-places))
        values["effective_from"] = date.fromisoformat(row["effective_from"])
        prices.append(Rates(**values))
    return PriceBook(prices, read_aliases())


def reference_apply_price(row, book: PriceBook, *, explicit_long_context: bool | None = None) -> bool:
    """usage.ingest.apply_price as it was before the integer path (Decimal cost())."""
    if row.metadata.get("cost_only"):
        set_billed(row, 0 if row.metadata.get("covered") else row.reported_cost_nano)
        return row.cost_nano is not None
    rates = book.rates_at(row.model, row.timestamp)
    row.fees_nano = 0
    if rates is None:
        row.cost_nano = row.cost_no_cache_nano = row.cost_no_batch_nano = None
        return False
    row.priced_model = "" if rates.model == row.model else rates.model  # stored when it differs
    if not row.provider:
        row.provider = rates.provider
    tokens = Tokens(**{rate_class(c): getattr(row, c) for c in PRICED_COLUMNS})
    tools = Tools(**{c: getattr(row, f"{c}_requests") for c in FEE_CLASSES})
    try:
        priced = _reference_cost(
            tokens,
            rates,
            batch=row.batch,
            service_tier=row.service_tier,
            speed=row.speed,
            long_context=explicit_long_context if explicit_long_context is not None else (
                row.long_context if row.requests != 1 else None
            ),
            when=row.timestamp if row.requests == 1 else None,
            tools=tools,
            regional=is_regional(row.model, row.region),
        )
    except Unpriced:
        row.cost_nano = row.cost_no_cache_nano = row.cost_no_batch_nano = None
        return False
    row.long_context = priced.long_context
    row.cost_nano = priced.cost_nano
    row.cost_no_cache_nano = priced.no_cache_nano
    row.cost_no_batch_nano = priced.no_batch_nano
    row.fees_nano = priced.fees_nano
    return True


ANTHROPIC = ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-6", "claude-sonnet-4-6",
             "claude-opus-4-5", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4"]
OPENAI = ["gpt-5", "gpt-4o-mini", "gpt-4.1", "gpt-5.4", "gpt-5.6-sol", "gpt-5-mini", "o3", "gpt-4o-mini-audio-preview"]
GEMINI = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-flash-preview", "gemini-3.1-pro-preview"]
DEEPSEEK = ["deepseek-chat", "deepseek-v4-flash", "deepseek-reasoner"]
TIERS = ["default"] * 12 + [""] * 4 + ["priority", "priority", "flex", "auto", "scale"]


def record(rng: random.Random) -> tuple[dict, bool | None]:
    """One record's row values and the explicit long-context label build_row passes."""
    v = {"timestamp": datetime(2026, 11, rng.randrange(1, 31), rng.randrange(24), rng.randrange(60), tzinfo=UTC),
         "metadata": {}, "requests": 1}
    explicit = None
    kind = rng.random()
    if kind < 0.45:
        v["model"] = model = rng.choice(ANTHROPIC)
        v["input_tokens"] = rng.randrange(100, 5000)
        v["output_tokens"] = rng.randrange(10, 4000)
        v["cache_read_tokens"] = rng.choice([0, 0, 4096, 20_000, 150_000])
        v["cache_write_5m_tokens"] = rng.choice([0, 0, 1024, 3000])
        v["cache_write_1h_tokens"] = rng.choice([0, 0, 0, 2048])
        if rng.random() < 0.04:
            v["cache_read_tokens"] = rng.randrange(180_000, 900_000)  # past a 200K threshold
        v["batch"] = rng.random() < 0.1
        v["region"] = "us" if rng.random() < 0.1 else "global"
        v["speed"] = "fast" if model == "claude-opus-4-6" and rng.random() < 0.2 else ""
        v["web_search_requests"] = rng.randrange(1, 6) if rng.random() < 0.05 else 0
        v["web_fetch_requests"] = 1 if rng.random() < 0.02 else 0
    elif kind < 0.80:
        v["model"] = model = rng.choice(OPENAI)
        prompt = rng.randrange(200, 30_000)
        if model == "gpt-5.4" and rng.random() < 0.1:
            prompt = rng.randrange(260_000, 600_000)
        cached = min(prompt, rng.choice([0, 1024, 2048, 8192]))
        v["cache_read_tokens"] = cached
        if model == "gpt-5.6-sol":
            v["cache_write_30m_tokens"] = w30 = min(prompt - cached, rng.choice([0, 1024]))
            v["cache_write_12h_tokens"] = w12 = min(prompt - cached - w30, rng.choice([0, 0, 2048]))
            cached += w30 + w12
        if model == "gpt-4o-mini-audio-preview":
            v["audio_input_tokens"] = audio = rng.randrange(0, prompt - cached + 1)
            cached += audio
        v["input_tokens"] = prompt - cached
        v["output_tokens"] = rng.randrange(10, 3000)
        v["service_tier"] = rng.choice(TIERS)
        v["batch"] = rng.random() < 0.05
        v["region"] = "eu" if rng.random() < 0.05 else ""
        v["file_search_requests"] = rng.randrange(1, 3) if rng.random() < 0.02 else 0
        v["web_search_requests"] = 1 if rng.random() < 0.02 else 0
    elif kind < 0.93:
        v["model"] = rng.choice(GEMINI)
        v["input_tokens"] = rng.randrange(100, 60_000)
        if rng.random() < 0.04:
            v["input_tokens"] = rng.randrange(200_001, 900_000)
        v["cache_read_tokens"] = rng.choice([0, 0, 32_768])
        v["output_tokens"] = rng.randrange(10, 8000)
        v["batch"] = rng.random() < 0.15
        v["grounding_requests"] = 1 if rng.random() < 0.05 else 0
    elif kind < 0.98:
        v["model"] = rng.choice(DEEPSEEK)
        v["input_tokens"] = rng.randrange(100, 20_000)
        v["cache_read_tokens"] = rng.choice([0, 0, 6400])
        v["output_tokens"] = rng.randrange(10, 4000)
    elif kind < 0.99:
        v["model"] = rng.choice(["my-local-llama", "claude-unknown-9"])  # unpriced
        v["input_tokens"] = rng.randrange(100, 5000)
        v["output_tokens"] = rng.randrange(10, 4000)
    else:
        v["model"] = rng.choice(ANTHROPIC)
        v["metadata"] = {"cost_only": True}
        v["reported_cost_nano"] = rng.randrange(10**9)
    if rng.random() < 0.15 and not v["metadata"]:
        # an aggregate console row: many requests, the provider's context-window label
        scale = rng.randrange(10, 5000)
        v["requests"] = scale
        for column in PRICED_COLUMNS:
            v[column] = v.get(column, 0) * scale
        explicit = rng.random() < 0.05
        v["long_context"] = explicit
    return v, explicit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ref_book, fast_book = catalog_book(), catalog_book()
    seconds = {"reference": 0.0, "integer": 0.0, "floor": 0.0}  # CPU time of this process
    wall = {"reference": 0.0, "integer": 0.0, "floor": 0.0}
    totals = {"reference": [0] * len(COST_COLUMNS), "integer": [0] * len(COST_COLUMNS)}
    priced = unpriced = 0
    done = 0
    clock, wall_clock = time.process_time, time.perf_counter
    while done < args.records:
        n = min(CHUNK, args.records - done)
        made = [record(rng) for _ in range(n)]
        ref_rows = [Row(**values) for values, _ in made]
        fast_rows = [Row(**values) for values, _ in made]
        for row in ref_rows + fast_rows:
            resolved = ref_book.resolve(row.model) or ""
            row.priced_model = "" if resolved == row.model else resolved  # as build_row does

        started, wall_started = clock(), wall_clock()
        for row in fast_rows:
            _counts(row)
            _fee_counts(row)
        seconds["floor"] += clock() - started
        wall["floor"] += wall_clock() - wall_started

        started, wall_started = clock(), wall_clock()
        for row, (_, explicit) in zip(ref_rows, made, strict=True):
            reference_apply_price(row, ref_book, explicit_long_context=explicit)
        seconds["reference"] += clock() - started
        wall["reference"] += wall_clock() - wall_started

        started, wall_started = clock(), wall_clock()
        for row, (_, explicit) in zip(fast_rows, made, strict=True):
            apply_price(row, fast_book, explicit_long_context=explicit)
        seconds["integer"] += clock() - started
        wall["integer"] += wall_clock() - wall_started

        for ref, fast in zip(ref_rows, fast_rows, strict=True):
            expected = [getattr(ref, c) for c in OUTCOME]
            got = [getattr(fast, c) for c in OUTCOME]
            assert got == expected, (ref.__dict__, expected, got)
            if ref.cost_nano is None:
                unpriced += 1
                continue
            priced += 1
            for path, row in (("reference", ref), ("integer", fast)):
                for i, column in enumerate(COST_COLUMNS):
                    totals[path][i] += getattr(row, column) or 0
        done += n
    assert totals["integer"] == totals["reference"], totals

    per = {path: s / args.records * 1e6 for path, s in seconds.items()}
    per_wall = {path: s / args.records * 1e6 for path, s in wall.items()}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.records:,} records ({priced:,} priced, {unpriced:,} unpriced), seed {args.seed}; "
          f"load average {load} on {os.cpu_count()} CPUs")
    print("  µs per record, CPU time of this process (wall clock in brackets: the machine is shared)")
    print(f"  reference (Decimal cost())   {per['reference']:6.2f}  [{per_wall['reference']:6.2f}]")
    print(f"  integer path (apply_price)   {per['integer']:6.2f}  [{per_wall['integer']:6.2f}]  "
          f"{per['reference'] / per['integer']:.1f}× faster")
    print(f"  floor: reading the inputs    {per['floor']:6.2f}  [{per_wall['floor']:6.2f}]  (integer path = "
          f"{per['integer'] / per['floor']:.1f}× the floor)")
    print(f"  of a 1M-row import's 30 µs/row budget (30 s) the integer path takes {per['integer'] / 30:.0%}")
    print("  totals equal on both paths: " + ", ".join(
        f"{c} {v:,}" for c, v in zip(COST_COLUMNS, totals["integer"], strict=True)))


if __name__ == "__main__":
    main()
