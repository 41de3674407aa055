"""The shipped price catalog (billing/pricing/data/prices.csv, aliases.csv) -> ModelPrice rows.

Shipped rows are upserted by (model, effective_from); rows a user added or edited in the
admin (is_custom) are never touched.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from billing.pricing.classes import FEE_RATES, RATE_CLASSES
from billing.pricing.models import ModelAlias, ModelPrice

DATA = Path(__file__).resolve().parent / "data"
DECIMAL_FIELDS = [
    *RATE_CLASSES, "batch_discount",
    "lc_input", "lc_output", "lc_cache_read", "lc_cache_write_5m", "lc_cache_write_1h",
    "lc_cache_write_30m", "lc_cache_write_12h",
    "priority_input", "priority_output", "priority_cache_read", "fast_multiplier",
    "batch_cache_read", "peak_multiplier", *FEE_RATES, "regional_multiplier",
]


class CatalogError(ValueError):
    pass


def read_prices(path: Path = DATA / "prices.csv") -> list[dict]:
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line, raw in enumerate(csv.DictReader(fh), start=2):
            row: dict = {
                "provider": raw["provider"].strip(),
                "model": raw["model"].strip().lower(),
                "display_name": (raw.get("display_name") or "").strip(),
                "effective_from": raw["effective_from"].strip(),
                "source_url": (raw.get("source_url") or "").strip(),
                "notes": (raw.get("notes") or "").strip(),
                "peak_hours": (raw.get("peak_hours") or "").strip(),
            }
            for name in DECIMAL_FIELDS:
                value = (raw.get(name) or "").strip()
                try:
                    row[name] = Decimal(value) if value else None
                except InvalidOperation as exc:
                    raise CatalogError(f"{path.name} line {line}, {name}: not a number: {value!r}") from exc
            if row["input"] is None or row["output"] is None:
                raise CatalogError(f"{path.name} line {line}: input and output rates are required")
            threshold = (raw.get("long_context_threshold") or "").strip()
            row["long_context_threshold"] = int(threshold) if threshold else None
            rows.append(row)
    return rows


def read_aliases(path: Path = DATA / "aliases.csv") -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {r["alias"].strip().lower(): r["model"].strip().lower() for r in csv.DictReader(fh)}


@transaction.atomic
def load_catalog() -> int:
    """Upsert the shipped rows in a few statements (it runs after every test-database flush)."""
    rows = read_prices()
    custom = set(ModelPrice.objects.filter(is_custom=True).values_list("model", "effective_from"))
    existing = {(p.model, p.effective_from.isoformat()): p for p in ModelPrice.objects.filter(is_custom=False)}
    new, changed = [], []
    for row in rows:
        key = (row["model"], row["effective_from"])
        if key in custom:
            continue
        price = existing.pop(key, None)
        if price is None:
            new.append(ModelPrice(**row))
            continue
        for name, value in row.items():
            setattr(price, name, value)
        changed.append(price)
    ModelPrice.objects.bulk_create(new)
    fields = [name for name in rows[0] if name not in ("model", "effective_from")] if rows else []
    if changed:
        ModelPrice.objects.bulk_update(changed, fields)
    _load_aliases()
    return len(rows)


def _load_aliases() -> None:
    shipped = read_aliases()
    custom = set(ModelAlias.objects.filter(is_custom=True).values_list("alias", flat=True))
    current = {a.alias: a for a in ModelAlias.objects.filter(alias__in=shipped)}
    new, changed = [], []
    for alias, model in shipped.items():
        if alias in custom:
            continue
        row = current.get(alias)
        if row is None:
            new.append(ModelAlias(alias=alias, model=model))
        elif row.model != model:
            row.model = model
            changed.append(row)
    ModelAlias.objects.bulk_create(new)
    ModelAlias.objects.bulk_update(changed, ["model"])


def load_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver (see PricingConfig.ready)."""
    load_catalog()


def ensure_catalog() -> None:
    if not ModelPrice.objects.filter(is_custom=False).exists():
        load_catalog()
