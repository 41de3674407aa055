"""The billed ledger's one rule: each provider × UTC day (× workspace, where both sides
name it) is counted once, whatever formats it arrived in, in whatever order, however often.

Every billed format is either a *token* view (Console usage CSV, Admin usage_report,
OpenAI usage CSV / Usage API) or a *cost* view (Console cost CSV, Admin cost_report,
OpenAI cost CSV / Costs API) of the provider's usage. Per kind:

- An import states its scopes: the (provider, day, workspace) it has rows for. Rows of the
  same kind already stored for an overlapping scope, from any format, are a restatement's
  predecessors: they are replaced (the same row stated again is a duplicate, left alone).
  Scopes overlap when they name the same workspace, or when they can't be told apart: one
  side names workspaces by name (Console CSVs) and the other by id (APIs) and the
  directory does not map the name to an id, or an OpenAI source is not broken down by
  project. Never summed, at worst replaced as a whole day.
- A cost row is *covered* when token rows of the same usage exist (same scope and model,
  or the whole scope for an undivided bill): it keeps the provider's dollars as
  `reported_cost_nano` and counts 0, because the token rows already count that spend at
  our prices. Fees that tokens don't price (web search, file search, …) are never covered.
  Coverage is recomputed for every day an import touches, so the order doesn't matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Sum

from costwatch.tenant import generation
from costwatch.tenant.models import Project
from usage.importers.base import model_key
from usage.ingest import Counts, mark_dirty, record_usage, set_billed
from usage.models import LEDGER_BILLED, DirectoryEntry, ImportJob, UsageRecord
from usage.records import Batch, Record

TOKENS, COSTS = "tokens", "costs"

LABELS = {
    "anthropic_console_usage": "the Console usage CSV",
    "anthropic_console_cost": "the Console cost CSV",
    "anthropic_usage_report": "the Admin API usage report",
    "anthropic_cost_report": "the Admin API cost report",
    "openai_usage_csv": "the OpenAI usage CSV",
    "openai_cost_csv": "the OpenAI cost CSV",
    "openai_usage_api": "the OpenAI Usage API",
    "openai_costs_api": "the OpenAI Costs API",
}
ID_PREFIXES = ("wrkspc_", "proj_")
# Fees (cost rows' cost_type) that token rows price themselves: such a fee row of a scope
# with token rows is covered like a model's token cost. Web searches: cost() prices the
# token rows' web_search_requests (Console CSV web_search_count, Admin API
# server_tool_use.web_search_requests) at $10 / 1,000, so the cost views' web_search rows
# are not counted a second time — where the scope's token rows carry searches (a token view
# without the count leaves the fee to the cost view). cost_type -> the count column.
FEES_PRICED_FROM_TOKENS: dict[str, str] = {"web_search": "web_search_requests"}


def label(format: str) -> str:
    return LABELS.get(format, "an earlier import")


def _namespace(workspace: str) -> str:
    if not workspace:
        return "default"
    return "id" if workspace.startswith(ID_PREFIXES) else "name"


def overlaps(provider: str, stored: str, stated: set[str]) -> bool:
    """Whether a stored row's workspace may be one of the workspaces an import states."""
    if stored in stated:
        return True
    if provider == "openai" and (stored == "" or "" in stated):
        return True  # not broken down by project: the whole organisation
    kind = _namespace(stored)
    if kind == "default":
        return False  # `Default` ⇔ workspace_id null: the same on both sides
    return any(_namespace(w) not in {"default", kind} for w in stated)


@dataclass
class _Directory:
    """Name -> id per (provider, kind), for names that map to exactly one id."""

    ids: dict[tuple[str, str, str], str]

    @classmethod
    def load(cls, project: Project) -> _Directory:
        seen: dict[tuple[str, str, str], set[str]] = {}
        for provider, kind, ident, name in DirectoryEntry.objects.filter(project=project).values_list(
            "provider", "kind", "ident", "name"
        ):
            seen.setdefault((provider, kind, name), set()).add(ident)
        return cls({k: next(iter(v)) for k, v in seen.items() if len(v) == 1})

    def resolve(self, provider: str, kind: str, value: str) -> str:
        if not value or value.startswith(ID_PREFIXES + ("apikey_", "key_")):
            return value
        return self.ids.get((provider, kind, value), value)


def _names_in(record: Record) -> list[tuple[str, str, str]]:
    """(kind, id, name) pairs a record carries: the Console cost CSV names keys by both,
    the OpenAI cost CSV projects."""
    pairs = []
    meta = record.metadata
    if meta.get("api_key_id") and record.api_key and not record.api_key.startswith("apikey_"):
        pairs.append((DirectoryEntry.API_KEY, meta["api_key_id"], record.api_key))
    if meta.get("project_id") and meta.get("project_name"):
        pairs.append((DirectoryEntry.WORKSPACE, meta["project_id"], meta["project_name"]))
    return pairs


def learn(*, project: Project, provider: str, entries: Iterable[tuple[str, str, str]],
          origin: str = "import") -> int:
    """Add or rename directory entries (kind, id, name); a user's edit is never overwritten.
    Billed rows stored under a name the directory now maps to one id get the id. Returns
    how many entries changed."""
    changed = 0
    entries = list(dict.fromkeys(entries))
    for kind, ident, name in entries:
        entry = DirectoryEntry.objects.filter(project=project, provider=provider, kind=kind, ident=ident).first()
        if entry is None:
            DirectoryEntry.objects.create(project=project, provider=provider, kind=kind, ident=ident,
                                          name=name[:200], origin=origin)
            changed += 1
        elif (entry.origin != "user" or origin == "user") and entry.name != name[:200]:
            entry.name, entry.origin = name[:200], origin
            entry.save(update_fields=["name", "origin", "updated_at"])
            changed += 1
    if changed:
        _names_to_ids(project, provider)
        generation.bump(project.pk)  # pages show the names
    return changed


def _names_to_ids(project: Project, provider: str) -> None:
    directory = _Directory.load(project)
    rows = UsageRecord.objects.filter(project=project, ledger=LEDGER_BILLED, provider=provider)
    days: set[date] = set()
    for (p, kind, name), ident in directory.ids.items():
        if p != provider or not name:
            continue
        field = "workspace" if kind == DirectoryEntry.WORKSPACE else "api_key"
        named = rows.filter(**{field: name})
        days.update(named.values_list("day", flat=True).distinct())
        named.update(**{field: ident})
    mark_dirty(project_id=project.pk, days={(d, LEDGER_BILLED) for d in days})


class _Scopes:
    """Wraps an import's records, or batches of them: maps names to ids, tags the format,
    and collects the (provider, day) -> workspaces it states."""

    def __init__(self, project: Project, format: str):
        self.project, self.format = project, format
        self.directory = _Directory.load(project)
        self.stated: dict[tuple[str, date], set[str]] = {}
        self.names: dict[str, list[tuple[str, str, str]]] = {}

    def records(self, records: Iterable[Record]) -> Iterator[Record]:
        directory = self.directory if self.directory.ids else None  # an empty one maps nothing
        for record in records:
            self._take(record, directory)
            self._state(record.provider, record.timestamp.date(), record.workspace)
            yield record

    def batches(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        """The same per batch: each shared record is taken once, for all its rows."""
        directory = self.directory if self.directory.ids else None
        taken: dict[int, Record] = {}
        for batch in batches:
            for shared in batch.shared():
                if id(shared) not in taken:
                    taken[id(shared)] = shared
                    self._take(shared, directory)
            for shared_id, day in {(id(row[0]), row[3]) for row in batch.rows}:
                shared = taken[shared_id]
                self._state(shared.provider, day, shared.workspace)
            yield batch

    def _take(self, record: Record, directory: _Directory | None) -> None:
        provider, meta = record.provider, record.metadata
        if "api_key_id" in meta or "project_id" in meta:
            for pair in _names_in(record):
                self.names.setdefault(provider, []).append(pair)
            if meta.get("api_key_id"):
                record.api_key = meta["api_key_id"]
        if directory is not None:
            record.api_key = directory.resolve(provider, DirectoryEntry.API_KEY, record.api_key)
            record.workspace = directory.resolve(provider, DirectoryEntry.WORKSPACE, record.workspace)
        meta["format"] = self.format

    def _state(self, provider: str, day: date, workspace: str) -> None:
        workspaces = self.stated.get((provider, day))
        if workspaces is None:
            workspaces = self.stated[(provider, day)] = set()
        workspaces.add(workspace)


def store(*, project: Project, format: str, source: str, kind: str, records: Iterable[Record] = (),
          batches: Iterable[Batch] | None = None, import_job: ImportJob,
          on_progress: Callable[[int], None] | None = None) -> Counts:
    """Store one billed format's records, or its batches (usage.records.Batch), under the
    rule above (in one transaction)."""
    with transaction.atomic():
        scopes = _Scopes(project, format)
        counts = record_usage(project=project, source=source, records=scopes.records(records), merge=True,
                              batches=None if batches is None else scopes.batches(batches),
                              import_job=import_job, on_progress=on_progress)
        marked = set(counts.days)  # record_usage marked these dirty
        for provider, pairs in scopes.names.items():
            learn(project=project, provider=provider, entries=pairs)
        _replace_predecessors(project, import_job, format, kind, scopes.stated, counts)
        if kind == COSTS:
            counts.merged = 0  # here: this import's cost rows that token rows cover
        cover(project=project, provider_days=scopes.stated.keys(), counts=counts, import_job=import_job)
        mark_dirty(project_id=project.pk, days=counts.days - marked)
    return counts


def _of_kind(qs, kind: str):
    return qs.filter(metadata__cost_only=True) if kind == COSTS else qs.exclude(metadata__has_key="cost_only")


def _replace_predecessors(project: Project, job: ImportJob, format: str, kind: str,
                          stated: dict[tuple[str, date], set[str]], counts: Counts) -> None:
    by_provider: dict[str, list[date]] = {}
    for provider, day in stated:
        by_provider.setdefault(provider, []).append(day)
    for provider, days in by_provider.items():
        # what this format stated in this run stays (a run may hold several formats)
        qs = _of_kind(UsageRecord.objects.filter(project=project, ledger=LEDGER_BILLED, provider=provider,
                                                 day__in=days), kind).exclude(import_job=job, metadata__format=format)
        stale = [r for r in qs.values("pk", "day", "workspace", "metadata", "cost_nano")
                 if overlaps(provider, r["workspace"], stated[(provider, r["day"])])]
        for i in range(0, len(stale), 500):
            UsageRecord.objects.filter(pk__in=[r["pk"] for r in stale[i:i + 500]]).delete()
        for r in stale:
            counts.restated(r["metadata"].get("format", ""), r["day"])
            counts.replaced += 1
            counts.replaced_cost_nano += r["cost_nano"] or 0
            counts.days.add((r["day"], LEDGER_BILLED))


def cover(*, project: Project, provider_days: Iterable[tuple[str, date]], counts: Counts | None = None,
          import_job: ImportJob | None = None) -> None:
    """Recompute which cost rows of these days token rows cover (see the module doc)."""
    by_provider: dict[str, set[date]] = {}
    for provider, day in provider_days:
        by_provider.setdefault(provider, set()).add(day)
    for provider, days in by_provider.items():
        base = UsageRecord.objects.filter(project=project, ledger=LEDGER_BILLED, provider=provider, day__in=days)
        cost_rows = list(_of_kind(base, COSTS))
        if not cost_rows:
            continue
        tokens: dict[date, dict[tuple[str, str], int]] = {}
        # day -> cost_type -> workspaces whose token rows count that fee
        fees: dict[date, dict[str, set[str]]] = {}
        counted = {f"_{fee}": Sum(column) for fee, column in FEES_PRICED_FROM_TOKENS.items()}
        for row in _of_kind(base, TOKENS).values("day", "workspace", "model", "priced_model").annotate(
            cost=Sum("cost_nano"), **counted
        ):
            models = tokens.setdefault(row["day"], {})
            key = (row["workspace"], model_key(row["priced_model"] or row["model"]))
            models[key] = models.get(key, 0) + (row["cost"] or 0)
            for fee in FEES_PRICED_FROM_TOKENS:
                if row[f"_{fee}"]:
                    fees.setdefault(row["day"], {}).setdefault(fee, set()).add(row["workspace"])
        changed = []
        for row in cost_rows:
            billed = _billed(provider, row, tokens.get(row.day, {}), fees.get(row.day, {}))
            covered = billed != row.reported_cost_nano
            if covered and counts is not None and import_job is not None and row.import_job_id == import_job.pk:
                counts.merged += 1
            if covered == bool(row.metadata.get("covered")) and billed == row.cost_nano:
                continue
            before = row.cost_nano or 0
            row.metadata = {**row.metadata, "covered": True} if covered else {
                k: v for k, v in row.metadata.items() if k != "covered"}
            set_billed(row, billed)
            changed.append(row)
            if counts is not None:
                counts.replaced_cost_nano += before - (billed or 0)
                counts.days.add((row.day, LEDGER_BILLED))
        UsageRecord.objects.bulk_update(changed, ["metadata", "cost_nano", "cost_no_cache_nano",
                                                  "cost_no_batch_nano", "fees_nano"], batch_size=500)


def _billed(provider: str, row: UsageRecord, tokens: dict[tuple[str, str], int],
            fees: dict[str, set[str]]) -> int | None:
    """What a cost row counts in the billed ledger: its reported dollars, 0 when token rows
    count that spend (a fee: when they carry its count), or for an undivided bill ("all")
    the part token rows don't explain (fees such as file search): reported minus what the
    scope's tokens cost, at least 0."""
    covers = row.metadata.get("covers", "model")
    near = {m: c for (ws, m), c in tokens.items() if ws == row.workspace or overlaps(provider, ws, {row.workspace})}
    if covers == "none":
        counted = fees.get(row.metadata.get("cost_type", ""), set())
        priced = any(ws == row.workspace or overlaps(provider, ws, {row.workspace}) for ws in counted)
        return 0 if priced else row.reported_cost_nano
    if covers == "all":
        if not near:
            return row.reported_cost_nano
        return max(0, (row.reported_cost_nano or 0) - sum(near.values()))
    return 0 if model_key(row.priced_model or row.model) in near else row.reported_cost_nano


def describe(counts: Counts) -> str:
    """'replaced 212 billed rows of 2026-09-01…2026-09-30 from the Console usage CSV'."""
    parts = []
    for format, (rows, first, last) in sorted(counts.replaced_from.items(), key=lambda kv: kv[1][1]):
        span = first.isoformat() if first == last else f"{first.isoformat()}…{last.isoformat()}"
        parts.append(f"replaced {rows} billed row{'s' if rows != 1 else ''} of {span} from {label(format)}")
    return "; ".join(parts)
