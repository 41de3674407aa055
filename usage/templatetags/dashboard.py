"""Display formats for the dashboard: money from nano-USD, token counts, percentages."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html

from billing.pricing.money import NANO_PER_USD, format_usd
from usage.web.charts import label

register = template.Library()


@register.filter
def usd(nano) -> str:
    return format_usd(nano)


@register.filter
def usd_unit(nano) -> str:
    """A per-unit price (e.g. average per request): 4 decimals below a dollar."""
    if nano is None or nano == "":
        return "—"
    amount = Decimal(int(nano)) / NANO_PER_USD
    if abs(amount) >= 1 or amount == 0:
        return usd(nano)
    return usd(nano) if abs(amount) < Decimal("0.0001") else f"${amount:.4f}"


@register.filter
def tokens(value) -> str:
    """1234 -> 1.2K, 5_300_000 -> 5.3M."""
    if value is None or value == "":
        return "—"
    value = int(value)
    for size, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(value) >= size:
            text = f"{value / size:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return f"{value:,}"


@register.filter
def pct(value, decimals: int = 1) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(decimals)}f}%"


@register.filter
def signed_pct(value, decimals: int = 0) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:+.{int(decimals)}f}%"


@register.filter
def dimlabel(value) -> str:
    """A dimension value as charts name it: batch / interactive, "(none)" for empty."""
    return label(value)


@register.filter
def get_item(mapping, key):
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


@register.filter
def intcomma_int(value) -> str:
    if value is None or value == "":
        return "—"
    return f"{int(value):,}"


@register.simple_tag
def dimname(names, key, value):
    """A dimension value as the directory names it, the id on hover; else as dimlabel."""
    name = (names or {}).get(key, {}).get("" if value is None else value)
    if name is None or name == value:
        return label(value)
    return format_html('<span title="{}">{}</span>', value or "workspace_id: null", name)


@register.filter
def sub(value, other):
    """value − other (integers, e.g. nano-USD)."""
    return int(value or 0) - int(other or 0)


@register.filter
def requests_in(value, ledger) -> str:
    """A request count; "n/a" on the billed ledger where the export had none (consoles
    export tokens and dollars, not requests)."""
    if ledger == "billed" and not value:
        return "n/a"
    return intcomma_int(value)


@register.filter
def duration(value) -> str:
    """A timedelta as "2 h 05 min", "7 min", "under a minute"."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
