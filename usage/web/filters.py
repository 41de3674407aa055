"""The dashboard's filters, parsed from the query string by one function for every page and
every CSV export, so that any view is a shareable URL.

Rollup days are UTC days, so the date presets count UTC days too.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from costwatch import clock
from costwatch.tenant.models import Project
from usage.models import LEDGER_BILLED, LEDGER_METERED
from usage.reports.queries import GRANULARITIES, SpendQuery, default_ledger

RANGES = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "month": "This month",
    "last_month": "Last month",
    "custom": "Custom",
}
DEFAULT_RANGE = "30d"
MAX_DAYS = 731
# URL parameter -> label; the parameter names are the API's (usage.reports.queries.COLUMN).
DIMENSIONS = {
    "model": "Model",
    "provider": "Provider",
    "feature": "Feature",
    "user": "End user",
    "api_key": "API key",
    "workspace": "Workspace / project",
}
LEDGERS = {LEDGER_METERED: "Metered", LEDGER_BILLED: "Billed"}
# In a URL, an empty parameter means "no filter"; this value selects the empty dimension
# (records sent without a feature, user or key).
NONE = "(none)"


def month_bounds(day: date) -> tuple[date, date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def range_bounds(name: str, today: date) -> tuple[date, date]:
    if name == "7d":
        return today - timedelta(days=6), today
    if name == "90d":
        return today - timedelta(days=89), today
    if name == "month":
        return today.replace(day=1), today
    if name == "last_month":
        return month_bounds(today.replace(day=1) - timedelta(days=1))
    return today - timedelta(days=29), today


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    range: str
    start: date
    end: date  # inclusive
    ledger: str
    ledger_given: bool = False
    dims: dict[str, str] = field(default_factory=dict)  # e.g. {"feature": "chat"}
    granularity: str = "day"  # the charts' and tables' periods (queries.GRANULARITIES)

    @classmethod
    def from_request(cls, request, project: Project, *, today: date | None = None) -> Filters:
        get = request.GET
        today = today or clock.utc_today()
        name = get.get("range", "")
        start, end = _date(get.get("start")), _date(get.get("end"))
        if name == "custom" or (name not in RANGES and (start or end)):
            name = "custom"
            end = end or today
            start = start or end - timedelta(days=29)
            if start > end:
                start, end = end, start
            start = max(start, end - timedelta(days=MAX_DAYS - 1))
        else:
            name = name if name in RANGES else DEFAULT_RANGE
            start, end = range_bounds(name, today)
        dims = {d: "" if get[d] == NONE else get[d] for d in DIMENSIONS if get.get(d, "") != ""}
        ledger = get.get("ledger", "")
        given = ledger in LEDGERS
        if not given:
            ledger = default_ledger(project, start, end)
        granularity = get.get("granularity", "")
        granularity = granularity if granularity in GRANULARITIES else "day"
        return cls(range=name, start=start, end=end, ledger=ledger, ledger_given=given, dims=dims,
                   granularity=granularity)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def per(self) -> str:
        """"Daily", "Weekly", "Monthly": the charts' titles."""
        return {"day": "Daily", "week": "Weekly", "month": "Monthly"}[self.granularity]

    @property
    def range_label(self) -> str:
        if self.range == "custom":
            return f"{self.start:%b %-d, %Y} – {self.end:%b %-d, %Y}"
        return RANGES[self.range]

    @property
    def range_phrase(self) -> str:
        """The range inside a sentence ("Spend, last 30 days"): a preset's name in lower
        case, a custom range's dates as they are written."""
        return self.range_label if self.range == "custom" else RANGES[self.range].lower()

    @property
    def dates_label(self) -> str:
        """"Nov 2 – Dec 1, 2026", "Dec 1, 2026", "Dec 30, 2025 – Jan 5, 2026"."""
        if self.start == self.end:
            return f"{self.end:%b %-d, %Y}"
        if self.start.year == self.end.year:
            return f"{self.start:%b %-d} – {self.end:%b %-d, %Y}"
        return f"{self.start:%b %-d, %Y} – {self.end:%b %-d, %Y}"

    def spend_query(self, project: Project, *, group_by: list[str] | None = None,
                    start: date | None = None, end: date | None = None,
                    ledger: str | None = None) -> SpendQuery:
        return SpendQuery(
            project=project,
            start=start or self.start,
            end=end or self.end,
            ledger=ledger or self.ledger,
            group_by=list(group_by or []),
            filters=dict(self.dims),
        )

    def params(self) -> dict[str, str]:
        """The query-string form: only what differs from the defaults, so URLs stay short."""
        out: dict[str, str] = {}
        if self.range == "custom":
            out.update(range="custom", start=self.start.isoformat(), end=self.end.isoformat())
        elif self.range != DEFAULT_RANGE:
            out["range"] = self.range
        if self.ledger_given:
            out["ledger"] = self.ledger
        if self.granularity != "day":
            out["granularity"] = self.granularity
        out.update({k: v if v != "" else NONE for k, v in self.dims.items()})
        return out

    def with_dim(self, name: str, value: str | None) -> Filters:
        dims = {k: v for k, v in self.dims.items() if k != name}
        if value is not None:
            dims[name] = value
        return replace(self, dims=dims)

    def query(self, **extra) -> str:
        """`?…` for these filters plus page parameters (a None value drops the parameter)."""
        params = self.params()
        for key, value in extra.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        return "?" + urlencode(params) if params else "?"

    def chips(self, **extra) -> list[dict]:
        """The active dimension filters, each with the query string that removes it."""
        return [
            {"name": DIMENSIONS[k], "param": k, "value": v,
             "remove": self.with_dim(k, None).query(**extra)}
            for k, v in self.dims.items()
        ]
