"""Keeping the catalog current from a maintained source (billing/pricing/sources.py).

- `diff()` compares a source's rows in force today with the catalog's rows in force today.
  Models whose row in force is curated (the shipped CSV) or custom (the admin) are not
  changed by a sync: curated rows win, and `drift()` reports where they disagree.
- `apply()` adds new effective-dated rows (origin "synced"), never edits or deletes a row,
  and writes one PriceChange per model and field. A second run finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from billing.pricing.models import ModelPrice, PriceChange
from billing.pricing.rates import PriceBook
from billing.pricing.sources import NO_START, STATED_ONLY, SYNCED_FIELDS, SourceRows


@dataclass(frozen=True)
class Change:
    model: str
    provider: str
    field: str  # a rate field, or "model" for a model new to the catalog
    old: Decimal | int | None
    new: Decimal | int | None


def _same(a, b, field: str = "") -> bool:
    if b is None and field in STATED_ONLY:
        return True  # a source that doesn't price this doesn't disagree
    if a is None or b is None:
        return a is None and b is None
    return Decimal(a) == Decimal(b)


def _in_force(today: date) -> dict[str, ModelPrice]:
    out: dict[str, ModelPrice] = {}
    for price in ModelPrice.objects.filter(effective_from__lte=today).order_by("model", "effective_from"):
        out[price.model] = price
    return out


def _source_in_force(source: SourceRows, today: date) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for row in sorted(source.rows, key=lambda r: (r["model"], r["effective_from"])):
        if row["effective_from"] <= today:
            out[row["model"]] = row
    return out


def diff(source: SourceRows, today: date) -> list[Change]:
    catalog = _in_force(today)
    book = PriceBook.load()
    changes: list[Change] = []
    for model, row in sorted(_source_in_force(source, today).items()):
        current = catalog.get(model)
        if current is None:
            if book.resolve(model) is not None:
                # another spelling of a model the catalog prices (a dated snapshot id), or
                # a model it knows from a later date: not the source's to fill in
                continue
            changes.append(Change(model, row["provider"], "model", None, None))
            continue
        if current.origin != "synced":
            continue  # curated / custom rows win
        for field in SYNCED_FIELDS:
            if not _same(getattr(current, field), row.get(field), field):
                changes.append(Change(model, row["provider"], field, getattr(current, field), row.get(field)))
    return changes


@transaction.atomic
def apply(source: SourceRows, today: date) -> list[Change]:
    """Add a row per new or changed model; new models start when the source says (or, with
    no start date, cover all earlier usage), changed ones today."""
    changes = diff(source, today)
    rows = _source_in_force(source, today)
    for model in sorted({c.model for c in changes}):
        row = rows[model]
        new_model = any(c.field == "model" for c in changes if c.model == model)
        start = row["effective_from"] if new_model else today
        price = ModelPrice(
            model=model, provider=row["provider"], display_name=model, effective_from=start,
            source_url=row.get("source_url", "")[:500], origin="synced",
            notes=f"{source.source} {source.version}".strip()
            + ("" if start != NO_START else "; launch date not in the source"),
            **{f: row.get(f) for f in SYNCED_FIELDS},
        )
        ModelPrice.objects.filter(model=model, effective_from=start, origin="synced").delete()
        price.save()
        for change in (c for c in changes if c.model == model):
            PriceChange.objects.create(
                source=source.source, source_version=source.version[:200], model=model, effective_from=start,
                field=change.field, old="" if change.old is None else str(change.old),
                new="" if change.new is None else str(change.new),
            )
    return changes


def drift(source: SourceRows, today: date) -> list[Change]:
    """Every curated row in force today that disagrees with the source (for check_prices)."""
    catalog = _in_force(today)
    theirs = _source_in_force(source, today)
    out: list[Change] = []
    for model, current in sorted(catalog.items()):
        row = theirs.get(model)
        if current.origin != "curated" or row is None:
            continue
        for field in SYNCED_FIELDS:
            if not _same(getattr(current, field), row.get(field), field):
                out.append(Change(model, current.provider, field, getattr(current, field), row.get(field)))
    return out
