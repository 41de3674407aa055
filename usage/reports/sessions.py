"""Claude Code sessions and 5-hour usage blocks (what ccusage shows), from the imported
session logs' records (source "claude_code": usage.importers.claude_code stores the log's
sessionId in metadata and the project, from its cwd, as the feature).

A block (ccusage's "session block", Claude's usage window) starts at the full UTC hour of
its first turn and lasts 5 hours; a turn after the block's end, or after 5 hours without
one, starts the next block. The active block is the one whose 5 hours are not over and whose
last turn is less than 5 hours old; its burn rate is its cost per hour between its first and
last turn, and its projection that rate until the block ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from billing.pricing.classes import PRICED_COLUMNS
from costwatch.tenant.models import Project
from usage.models import LEDGER_METERED, UsageRecord

SOURCE = "claude_code"
BLOCK = timedelta(hours=5)
FIELDS = ["timestamp", "model", "priced_model", "feature", "metadata", "requests", "cost_nano", *PRICED_COLUMNS]


@dataclass
class Usage:
    """Turns, tokens and cost of a set of turns; cost_nano leaves out unpriced turns."""

    first: datetime | None = None
    last: datetime | None = None
    turns: int = 0
    unpriced: int = 0
    cost_nano: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRICED_COLUMNS, 0))
    models: dict[str, int] = field(default_factory=dict)  # model -> cost (nano-USD)

    def add(self, row: dict) -> None:
        ts = row["timestamp"]
        self.first = ts if self.first is None else min(self.first, ts)
        self.last = ts if self.last is None else max(self.last, ts)
        self.turns += 1
        model = row["priced_model"] or row["model"]
        self.models[model] = self.models.get(model, 0) + (row["cost_nano"] or 0)
        if row["cost_nano"] is None:
            self.unpriced += 1
        else:
            self.cost_nano += row["cost_nano"]
        for column in PRICED_COLUMNS:
            self.tokens[column] += row[column]

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens.values())

    @property
    def model_names(self) -> list[str]:
        """Models by cost, the dearest first."""
        return sorted(self.models, key=lambda m: (-self.models[m], m))

    @property
    def duration(self) -> timedelta:
        return (self.last - self.first) if self.first else timedelta(0)


@dataclass
class Session(Usage):
    session_id: str = ""
    project: str = ""


@dataclass
class Block(Usage):
    start: datetime | None = None
    active: bool = False

    @property
    def end(self) -> datetime:
        return self.start + BLOCK

    def burn_rate_nano(self) -> int | None:
        """Cost per hour between the block's first and last turn (None under a minute)."""
        minutes = self.duration.total_seconds() / 60
        if minutes < 1:
            return None
        return int(self.cost_nano * 60 / minutes)

    def projected_nano(self, now: datetime) -> int | None:
        """The active block's cost at its end if the burn rate holds."""
        rate = self.burn_rate_nano()
        if not self.active or rate is None:
            return None
        left = max(timedelta(0), self.end - now).total_seconds() / 3600
        return self.cost_nano + int(rate * left)


def turns(project: Project, *, start: date, end: date, feature: str = "") -> list[dict]:
    """The Claude Code records of [start, end] (UTC days), oldest first."""
    qs = UsageRecord.objects.filter(project=project, source=SOURCE, ledger=LEDGER_METERED,
                                    day__gte=start, day__lte=end)
    if feature:
        qs = qs.filter(feature=feature)
    return list(qs.order_by("timestamp", "id").values(*FIELDS))


def sessions(rows: list[dict]) -> list[Session]:
    """Per (session id, project), the latest first."""
    found: dict[tuple[str, str], Session] = {}
    for row in rows:
        key = ((row["metadata"] or {}).get("session_id") or "", row["feature"])
        session = found.get(key)
        if session is None:
            session = found[key] = Session(session_id=key[0], project=key[1])
        session.add(row)
    return sorted(found.values(), key=lambda s: (s.last, s.session_id), reverse=True)


def blocks(rows: list[dict], *, now: datetime) -> list[Block]:
    """5-hour blocks of rows sorted by time, the latest first; at most the last one is active."""
    out: list[Block] = []
    current: Block | None = None
    for row in rows:
        ts = row["timestamp"]
        if current is None or ts >= current.end or ts - current.last >= BLOCK:
            current = Block(start=ts.replace(minute=0, second=0, microsecond=0))
            out.append(current)
        current.add(row)
    if current is not None:
        current.active = now < current.end and now - current.last < BLOCK
    return list(reversed(out))
