"""Metered vs billed: what the app measured next to what the provider consoles exported,
per day × provider × model, with the gaps flagged (docs/design.md, "Ledgers").

Both sides are priced by the same price table (tokens × rates), so a gap is a gap in the
usage itself: requests the app did not report, a key the console bills that the app never
used, an export that is missing a day. Where a cost export was imported, the provider's own
figure (`reported`) is shown next to ours.

Consoles lag: a provider's billed data ends on its last exported day, and the days after it
are "not billed yet" rather than gaps. A provider with no billed data in the range at all
(nothing imported for it) is compared with nothing and flagged nowhere, and likewise a
provider the app does not meter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import BigIntegerField, Sum
from django.db.models.functions import Cast

from billing.pricing.classes import PRICED_COLUMNS
from costwatch.tenant.models import Project
from usage.models import LEDGER_BILLED, LEDGER_METERED, DailyModelUsage

TOLERANCES = {"0.5": 50, "1": 100, "2": 200, "5": 500}  # percent -> basis points
DEFAULT_TOLERANCE = "1"
MIN_GAP_NANO = 10_000_000  # gaps under a cent are never flagged

# status of a (day, provider, model) cell
MATCH = "match"
DIFFERS = "differs"
MISSING_BILLED = "missing from billed"
NOT_BILLED_YET = "not billed yet"
NOT_METERED = "not metered"
NO_BILLED_DATA = "no billed data"
NO_METERED_DATA = "provider not metered"
FLAGGED = {DIFFERS, MISSING_BILLED, NOT_METERED}

SUMS = ["cost_nano", "reported_cost_nano", "fees_nano", "requests", *PRICED_COLUMNS]


@dataclass
class Side:
    cost_nano: int = 0
    reported_cost_nano: int = 0
    requests: int = 0
    tokens: int = 0
    fees_nano: int = 0  # tool fees, part of cost_nano

    def add(self, other: Side) -> None:
        self.cost_nano += other.cost_nano
        self.reported_cost_nano += other.reported_cost_nano
        self.fees_nano += other.fees_nano
        self.requests += other.requests
        self.tokens += other.tokens


@dataclass
class Cell:
    day: date
    provider: str
    model: str
    metered: Side | None
    billed: Side | None
    status: str = MATCH

    @property
    def diff_nano(self) -> int:
        return (self.metered.cost_nano if self.metered else 0) - (self.billed.cost_nano if self.billed else 0)

    @property
    def diff_share(self) -> Decimal | None:
        """The gap as a share of the billed cost (None when nothing was billed)."""
        if not self.billed or not self.billed.cost_nano:
            return None
        return Decimal(self.diff_nano) / self.billed.cost_nano

    @property
    def flagged(self) -> bool:
        return self.status in FLAGGED


@dataclass
class Group:
    """Totals of the compared cells of one model (or of everything)."""

    provider: str = ""
    model: str = ""
    metered: Side = field(default_factory=Side)
    billed: Side = field(default_factory=Side)
    flagged: int = 0
    cells: int = 0

    @property
    def diff_nano(self) -> int:
        return self.metered.cost_nano - self.billed.cost_nano

    @property
    def diff_share(self) -> Decimal | None:
        return Decimal(self.diff_nano) / self.billed.cost_nano if self.billed.cost_nano else None


@dataclass
class ProviderCoverage:
    """Which days each ledger has for a provider, and the cost of its *compared* cells: the
    same cells the totals sum, so the headline equals the sum of this table."""

    provider: str
    metered_days: int
    billed_days: int
    last_billed: date | None
    metered_nano: int = 0
    billed_nano: int = 0


@dataclass
class Reconciliation:
    start: date
    end: date
    tolerance_bp: int
    cells: list[Cell]
    models: list[Group]
    total: Group
    providers: list[ProviderCoverage]
    days: list[dict]  # per day: metered / billed cost of the compared cells

    @property
    def flagged(self) -> list[Cell]:
        return [c for c in self.cells if c.flagged]

    @property
    def has_billed(self) -> bool:
        return any(p.billed_days for p in self.providers)

    @property
    def has_metered(self) -> bool:
        return any(p.metered_days for p in self.providers)


def _side(row: dict) -> Side:
    return Side(
        cost_nano=int(row["cost_nano"] or 0),
        reported_cost_nano=int(row["reported_cost_nano"] or 0),
        requests=int(row["requests"] or 0),
        tokens=sum(int(row[c] or 0) for c in PRICED_COLUMNS),
        fees_nano=int(row["fees_nano"] or 0),
    )


def classify(cell: Cell, *, billed_until: date | None, metered: bool, tolerance_bp: int) -> str:
    """The status of one cell, given its provider's last billed day (None: no billed data
    in the range) and whether the app meters that provider at all in the range."""
    if cell.metered and cell.billed:
        gap = abs(cell.diff_nano)
        if gap >= MIN_GAP_NANO and gap * 10_000 > tolerance_bp * cell.billed.cost_nano:
            return DIFFERS
        return MATCH
    if cell.metered:
        if billed_until is None:
            return NO_BILLED_DATA
        return NOT_BILLED_YET if cell.day > billed_until else MISSING_BILLED
    return NOT_METERED if metered else NO_METERED_DATA


def reconcile(project: Project, *, start: date, end: date, provider: str | None = None,
              model: str | None = None, tolerance_bp: int = TOLERANCES[DEFAULT_TOLERANCE]) -> Reconciliation:
    """Metered vs billed per day × provider × model over start..end; the totals, the per-model
    and per-day tables and the coverage table's money all sum the same compared cells."""
    cells = _cells(project, start=start, end=end, provider=provider, model=model)
    providers = _coverage(cells)
    by_provider = {p.provider: p for p in providers}
    metered_providers = {p.provider for p in providers if p.metered_days}

    models: dict[tuple, Group] = {}
    total = Group()
    days: dict[date, dict] = {}
    for cell in cells:
        cell.status = classify(cell, billed_until=by_provider[cell.provider].last_billed,
                               metered=cell.provider in metered_providers, tolerance_bp=tolerance_bp)
        if cell.status in (NO_BILLED_DATA, NO_METERED_DATA, NOT_BILLED_YET):
            continue  # nothing to compare with
        group = models.setdefault((cell.provider, cell.model),
                                  Group(provider=cell.provider, model=cell.model))
        for target in (group, total):
            if cell.metered:
                target.metered.add(cell.metered)
            if cell.billed:
                target.billed.add(cell.billed)
            target.cells += 1
            target.flagged += cell.flagged
        metered_nano = cell.metered.cost_nano if cell.metered else 0
        billed_nano = cell.billed.cost_nano if cell.billed else 0
        day = days.setdefault(cell.day, {"day": cell.day, "metered_nano": 0, "billed_nano": 0})
        day["metered_nano"] += metered_nano
        day["billed_nano"] += billed_nano
        by_provider[cell.provider].metered_nano += metered_nano
        by_provider[cell.provider].billed_nano += billed_nano

    return Reconciliation(
        start=start, end=end, tolerance_bp=tolerance_bp, cells=cells,
        models=sorted(models.values(), key=lambda g: (-abs(g.diff_nano), g.provider, g.model)),
        total=total, providers=providers, days=[days[d] for d in sorted(days)],
    )


def _cells(project: Project, *, start: date, end: date, provider: str | None,
           model: str | None) -> list[Cell]:
    """One cell per day × provider × model with each ledger's side, in that order."""
    qs = DailyModelUsage.objects.filter(project=project, day__gte=start, day__lte=end,
                                        ledger__in=[LEDGER_METERED, LEDGER_BILLED])
    if provider is not None:
        qs = qs.filter(provider=provider)
    if model is not None:
        qs = qs.filter(model=model)
    rows = (qs.values("day", "ledger", "provider", "model")
            .annotate(**{m: Cast(Sum(m), BigIntegerField()) for m in SUMS})
            .order_by("day", "provider", "model"))
    cells: dict[tuple, Cell] = {}
    for row in rows:
        key = (row["day"], row["provider"], row["model"])
        cell = cells.setdefault(key, Cell(day=key[0], provider=key[1], model=key[2],
                                          metered=None, billed=None))
        if row["ledger"] == LEDGER_METERED:
            cell.metered = _side(row)
        else:
            cell.billed = _side(row)
    return list(cells.values())


def _coverage(cells: list[Cell]) -> list[ProviderCoverage]:
    """Days each ledger has per provider (the money is filled in from the compared cells)."""
    seen: dict[str, dict[str, set]] = {}
    for cell in cells:
        c = seen.setdefault(cell.provider, {"metered": set(), "billed": set()})
        if cell.metered:
            c["metered"].add(cell.day)
        if cell.billed:
            c["billed"].add(cell.day)
    return [
        ProviderCoverage(provider=name, metered_days=len(c["metered"]), billed_days=len(c["billed"]),
                         last_billed=max(c["billed"]) if c["billed"] else None)
        for name, c in sorted(seen.items())
    ]
