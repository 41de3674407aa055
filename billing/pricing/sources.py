"""Maintained price catalogs mapped onto costwatch's effective-dated rows.

Two sources, both read as data (no pricing code of theirs runs):
- LiteLLM's `model_prices_and_context_window.json` (USD per token, no history): read from a
  file or URL; costwatch does not depend on the (large) litellm package.
- pydantic's `genai-prices` (USD per million tokens, price history, tiers, variants): its
  bundled data by default (a small runtime dependency), or its `data.json` from a file/URL.

Each source becomes a list of row dicts with the ModelPrice field names (rates as Decimal
USD per million tokens) for the first-party providers costwatch prices. What a source says
that a row cannot hold (time-of-day windows, per-request fees) is listed in `skipped`.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib.metadata import version as package_version
from pathlib import Path

from genai_prices import data as genai_data
from genai_prices import types as genai_types

# A source row with no start date is in force from the first day costwatch knows of.
NO_START = date(2000, 1, 1)
MILLION = Decimal(1_000_000)

# The rate fields a source can set, in the order a diff prints them.
SYNCED_FIELDS = [
    "input", "output", "cache_read", "cache_write_5m", "cache_write_1h", "batch_discount",
    "long_context_threshold", "lc_input", "lc_output", "lc_cache_read", "lc_cache_write_5m",
    "lc_cache_write_1h", "priority_input", "priority_output", "priority_cache_read", "fast_multiplier",
    "cache_write_30m", "cache_write_12h", "lc_cache_write_30m", "lc_cache_write_12h", "audio_input",
    "web_search_fee",
]
# Fields only some sources state (LiteLLM has no web search fee per call, most models no
# audio rate): a source without them never disagrees with a row that has them.
STATED_ONLY = {"audio_input", "web_search_fee"}
# The sources name one cache-write rate (and a longer one); for OpenAI those are its
# 30-minute and 12-hour writes, costwatch classes of their own.
OPENAI_WRITES = [("cache_write_5m", "cache_write_30m"), ("cache_write_1h", "cache_write_12h"),
                 ("lc_cache_write_5m", "lc_cache_write_30m"), ("lc_cache_write_1h", "lc_cache_write_12h")]


def _own_classes(row: dict) -> dict:
    if row["provider"] == "openai":
        for short, long in OPENAI_WRITES:
            row[long] = row.pop(short, None)
    return row

LITELLM_PROVIDERS = {"anthropic": "anthropic", "openai": "openai", "gemini": "google", "deepseek": "deepseek"}
GENAI_PROVIDERS = {"anthropic": "anthropic", "openai": "openai", "google": "google", "deepseek": "deepseek"}
# The providers' own model families (genai-prices' "google" also lists Claude on Vertex).
FAMILIES = {"anthropic": ("claude",), "openai": ("gpt", "o1", "o3", "o4", "codex", "chatgpt"),
            "google": ("gemini",), "deepseek": ("deepseek",)}


class SourceError(ValueError):
    pass


@dataclass
class SourceRows:
    source: str
    version: str
    rows: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def latest(self) -> dict[str, dict]:
        """The row in force today per model (the source's newest row)."""
        out: dict[str, dict] = {}
        for row in sorted(self.rows, key=lambda r: (r["model"], r["effective_from"])):
            out[row["model"]] = row
        return out


def _per_million(value) -> Decimal | None:
    if value is None or isinstance(value, (dict, list, str, bool)):
        return None
    # repr of a float is its shortest exact spelling: 3e-06 -> 3.000000 per million
    return _plain(Decimal(repr(value)) * MILLION)


def _plain(value: Decimal) -> Decimal:
    """Six decimals at most, no exponent: 2E+1 -> 20, 0.500000 -> 0.5."""
    value = value.quantize(Decimal("0.000001")).normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def _ratio(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or not whole:
        return None
    return _plain((part / whole).quantize(Decimal("0.0001")))


def _litellm_tier(entry: dict) -> tuple[int | None, dict]:
    """The prompt-size tier LiteLLM names in its keys: `input_cost_per_token_above_200k_tokens`."""
    for key in entry:
        if key.startswith("input_cost_per_token_above_") and key.endswith("k_tokens"):
            size = key.removeprefix("input_cost_per_token_above_").removesuffix("k_tokens")
            if size.isdigit():
                suffix = f"_above_{size}k_tokens"
                return int(size) * 1000, {
                    "lc_input": _per_million(entry.get(f"input_cost_per_token{suffix}")),
                    "lc_output": _per_million(entry.get(f"output_cost_per_token{suffix}")),
                    "lc_cache_read": _per_million(entry.get(f"cache_read_input_token_cost{suffix}")),
                    "lc_cache_write_5m": _per_million(entry.get(f"cache_creation_input_token_cost{suffix}")),
                    "lc_cache_write_1h": _per_million(
                        entry.get(f"cache_creation_input_token_cost_above_1hr{suffix}")),
                }
    return None, {}


def from_litellm(payload: dict, *, version: str = "") -> SourceRows:
    if not isinstance(payload, dict):
        raise SourceError("litellm: expected a JSON object of model id -> prices")
    out = SourceRows(source="litellm", version=version or str(payload.get("sample_spec", {}).get("version", "")))
    for model, entry in payload.items():
        if not isinstance(entry, dict) or model == "sample_spec":
            continue
        provider = LITELLM_PROVIDERS.get(str(entry.get("litellm_provider", "")))
        model = model.lower().removeprefix("gemini/") if provider == "google" else model.lower()
        if (provider is None or "/" in model or not model.startswith(FAMILIES[provider])
                or entry.get("mode") not in (None, "chat", "responses", "completion")):
            continue
        inp, outp = _per_million(entry.get("input_cost_per_token")), _per_million(entry.get("output_cost_per_token"))
        if inp is None or outp is None:
            continue
        threshold, tier = _litellm_tier(entry)
        row = {
            "provider": provider, "model": model, "effective_from": NO_START,
            "input": inp, "output": outp,
            "cache_read": _per_million(entry.get("cache_read_input_token_cost")),
            "cache_write_5m": _per_million(entry.get("cache_creation_input_token_cost")),
            "cache_write_1h": _per_million(entry.get("cache_creation_input_token_cost_above_1hr")),
            "batch_discount": None,
            "long_context_threshold": threshold if tier.get("lc_input") is not None else None,
            **{k: v for k, v in tier.items() if v is not None and threshold},
            "priority_input": _per_million(entry.get("input_cost_per_token_priority")),
            "priority_output": _per_million(entry.get("output_cost_per_token_priority")),
            "priority_cache_read": _per_million(entry.get("cache_read_input_token_cost_priority")),
            "source_url": str(entry.get("source") or ""),
        }
        batch_input = _per_million(entry.get("input_cost_per_token_batches"))
        if batch_input is not None:
            row["batch_discount"] = Decimal(1) - _ratio(batch_input, inp)
        row["audio_input"] = _per_million(entry.get("input_cost_per_audio_token"))
        out.rows.append(_own_classes(row))
    return out


def read_litellm(text: str, *, version: str = "") -> SourceRows:
    try:
        return from_litellm(json.loads(text), version=version)
    except json.JSONDecodeError as exc:
        raise SourceError(f"litellm: not JSON (line {exc.lineno}: {exc.msg})") from exc


def _base_and_tier(price) -> tuple[Decimal | None, int | None, Decimal | None]:
    if price is None:
        return None, None, None
    if isinstance(price, genai_types.TieredPrices):
        tier = price.tiers[0] if price.tiers else None
        return price.base, (tier.start if tier else None), (tier.price if tier else None)
    return Decimal(price), None, None


def _genai_rates(prices) -> dict:
    row: dict = {}
    threshold = None
    for ours, theirs in [("input", "input_mtok"), ("output", "output_mtok"), ("cache_read", "cache_read_mtok"),
                         ("cache_write_5m", "cache_write_mtok"), ("cache_write_1h", "cache_write_1h_mtok")]:
        base, start, tier_price = _base_and_tier(getattr(prices, theirs, None))
        row[ours] = base
        if start is not None:
            threshold = start
            row[f"lc_{ours}"] = tier_price
    row["long_context_threshold"] = threshold
    return row


def _variant_rates(model) -> dict:
    """Priority / fast / batch variants -> priority_* rates, fast_multiplier, batch_discount."""
    out: dict = {}
    for variant in model.price_variants or []:
        rates = _genai_rates(variant.prices)
        when = variant.when or {}
        if when.get("service_tier") in ("priority", "fast") and rates["input"] is not None:
            out.update(priority_input=rates["input"], priority_output=rates["output"],
                       priority_cache_read=rates["cache_read"])
        elif when.get("processing") == "batch":
            out["_batch_input"] = rates["input"]
        elif when.get("speed") == "fast":
            out["_fast_input"] = rates["input"]
    return out


def from_genai_prices(providers, *, version: str = "") -> SourceRows:
    out = SourceRows(source="genai-prices", version=version)
    for provider in providers:
        ours = GENAI_PROVIDERS.get(provider.id)
        if ours is None:
            continue
        for model in provider.models:
            if not model.id.lower().startswith(FAMILIES[ours]):
                continue
            entries = model.prices if isinstance(model.prices, list) else [
                genai_types.ConditionalPrice(prices=model.prices)]
            # Variants (batch, priority, fast) were verified against the newest price: they
            # belong to the last dated row, not to history.
            last = max((i for i, e in enumerate(entries)
                        if not isinstance(e.constraint, genai_types.TimeOfDateConstraint)), default=-1)
            for index, entry in enumerate(entries):
                variants = _variant_rates(model) if index == last else {}
                constraint = entry.constraint
                if isinstance(constraint, genai_types.TimeOfDateConstraint):
                    out.skipped.append(f"{model.id}: time-of-day price {constraint.start_time}-{constraint.end_time}")
                    continue
                rates = _genai_rates(entry.prices)
                if rates["input"] is None or rates["output"] is None:
                    continue
                row = {"provider": ours, "model": model.id.lower(),
                       "effective_from": constraint.start_date if constraint else NO_START,
                       **rates, **{k: v for k, v in variants.items() if not k.startswith("_")},
                       "source_url": (provider.pricing_urls or [""])[0]}
                batch_input = variants.get("_batch_input")
                row["batch_discount"] = (Decimal(1) - _ratio(batch_input, rates["input"])
                                         if batch_input is not None else None)
                fast_input = variants.get("_fast_input")
                row["fast_multiplier"] = _ratio(fast_input, rates["input"])
                search_fee = getattr(entry.prices, "web_searches_kcount", None)
                if ours != "google":  # Gemini's is grounding, priced per grounded prompt or query
                    row["web_search_fee"] = Decimal(search_fee) if search_fee is not None else None
                audio = getattr(entry.prices, "input_audio_mtok", None)
                row["audio_input"] = Decimal(audio) if audio is not None and not isinstance(
                    audio, genai_types.TieredPrices) else None
                out.rows.append(_own_classes(row))
    return out


def bundled_genai_prices() -> SourceRows:
    version = package_version("genai-prices")
    return from_genai_prices(genai_data.providers, version=f"genai-prices {version} (bundled)")


def read_genai_prices(text: str, *, version: str = "") -> SourceRows:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"genai-prices: not JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(raw, list):
        raise SourceError("genai-prices: expected a JSON array of providers (its data.json)")
    try:
        providers = genai_types._providers_from_raw(raw)  # the parser its own updater uses
    except Exception as exc:  # pydantic's ValidationError names the failing path
        raise SourceError(f"genai-prices: {exc}") from exc
    return from_genai_prices(providers, version=version)


SOURCES = ("litellm", "genai-prices")
# Where each source publishes its data (used only when asked: --url or COSTWATCH_PRICE_SYNC_URL).
DEFAULT_URLS = {
    "litellm": "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
    "genai-prices": "https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/data.json",
}


def fetch(url: str, *, timeout: float = 30) -> str:
    if not url.startswith(("https://", "http://")):
        raise SourceError(f"--url: expected an http(s) URL, got {url!r}")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked)
        return response.read().decode("utf-8")


def load(source: str, *, file: str | None = None, url: str | None = None) -> SourceRows:
    """A source's rows from a file, a URL, or (genai-prices only) its bundled data."""
    if source not in SOURCES:
        raise SourceError(f"--source: expected one of {', '.join(SOURCES)}, got {source!r}")
    if file:
        path = Path(file)
        if not path.exists():
            raise SourceError(f"--file: {file} does not exist")
        text, version = path.read_text(encoding="utf-8"), f"file {path.name}"
    elif url:
        text, version = fetch(url), f"url {url}"
    elif source == "genai-prices":
        return bundled_genai_prices()
    else:
        raise SourceError("litellm: give --file PATH (the JSON shipped in the litellm wheel) or --url URL")
    reader = read_litellm if source == "litellm" else read_genai_prices
    return reader(text, version=version)
