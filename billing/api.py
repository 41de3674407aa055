from __future__ import annotations

from datetime import date, datetime
from datetime import timezone as dt_timezone

from ninja import Router
from ninja.errors import HttpError

from billing.pricing import PriceBook, Rates
from costwatch.auth import key_or_session

router = Router(tags=["billing"])

CLASSES = ["input", "output", "cache_read", "cache_write_5m", "cache_write_1h"]


def _rates_json(rates: Rates) -> dict:
    def num(value):
        return None if value is None else format(value.normalize(), "f")

    standard = rates.per_class()
    out = {
        "model": rates.model,
        "provider": rates.provider,
        "effective_from": rates.effective_from.isoformat(),
        "source_url": rates.source_url,
        "unit": "USD per million tokens",
        "rates": {c: num(standard[c]) for c in CLASSES},
        "batch_discount": num(rates.batch_discount),
        "long_context": None,
        "priority": None,
        "fast_multiplier": num(rates.fast_multiplier),
    }
    if rates.lc_input is not None:
        lc = rates.per_class(long_context=True)
        out["long_context"] = {"threshold_tokens": rates.long_context_threshold,
                               "rates": {c: num(lc[c]) for c in CLASSES}}
    if rates.priority_input is not None:
        pr = rates.per_class(priority=True)
        out["priority"] = {"rates": {c: num(pr[c]) for c in CLASSES}}
    return out


@router.get("/prices", auth=key_or_session, summary="Rates in force for a model")
def get_prices(request, model: str, at: str | None = None):
    """The resolved model and its rates per million tokens per class in force at `at`
    (YYYY-MM-DD or ISO 8601; default now)."""
    when: date | datetime
    if at:
        try:
            when = date.fromisoformat(at) if len(at) == 10 else datetime.fromisoformat(at)
        except ValueError as exc:
            raise HttpError(400, "at: expected YYYY-MM-DD or an ISO 8601 timestamp") from exc
    else:
        when = datetime.now(dt_timezone.utc)
    book = PriceBook.load()
    rates = book.rates_at(model, when)
    if rates is None:
        raise HttpError(404, f"model {model!r}: no price known; add one in the admin (Model prices)")
    return {"requested": model, **_rates_json(rates)}
