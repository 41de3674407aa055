"""Money is integer nano-USD everywhere (10^-9 USD). This module is the one place that
converts it to and from Decimal dollars, and the one formatter that shows it to people."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANO_PER_USD = 1_000_000_000


def to_nano(amount: Decimal) -> int:
    """A Decimal amount of nano-USD rounded (half to even) to an integer."""
    return int(amount.to_integral_value(rounding=ROUND_HALF_EVEN))


def usd_to_nano(usd: Decimal | str | int) -> int:
    return to_nano(Decimal(usd) * NANO_PER_USD)


def nano_to_usd(nano: int | None) -> Decimal | None:
    if nano is None:
        return None
    return (Decimal(nano) / NANO_PER_USD).quantize(Decimal("0.000000001"))


def usd_amount(nano: int | None) -> Decimal:
    """Dollars as a Decimal, 0 for no amount (charts, sums)."""
    return nano_to_usd(nano) or Decimal(0)


def decimal_string(nano: int | None) -> str | None:
    """The JSON API's money: exact decimal dollars as a string ("12.345000000"), None stays None."""
    usd = nano_to_usd(nano)
    return None if usd is None else format(usd, "f")


def format_usd(nano: int | str | None) -> str:
    """Dollars for people (pages, e-mail, webhooks): 2 decimals; sub-cent amounts keep up to
    6 decimals (at least 4) so a $0.0042 request does not read as $0.00."""
    if nano is None or nano == "":
        return "—"
    amount = Decimal(int(nano)) / NANO_PER_USD
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0 or amount >= Decimal("0.01"):
        return f"{sign}${amount:,.2f}"
    if amount < Decimal("0.000001"):
        return f"{sign}<$0.000001"
    text = f"{amount:.6f}".rstrip("0")
    decimals = len(text.split(".")[1])
    if decimals < 4:
        text = f"{amount:.4f}"
    return f"{sign}${text}"
