"""Claude Code session logs (~/.claude/projects/<project>/<session>.jsonl), docs/formats.md §5.

Claude Code writes one line per content block of a response, each with a usage snapshot,
early ones with partial output_tokens; resumed sessions copy earlier turns into new files.
So: keep assistant lines with usage, de-duplicate by (message.id, requestId) across every
file of the import, keep the snapshot with the most output tokens, skip `<synthetic>`.
The surviving lines are kept in memory until all files are read (one small dict entry per
API response).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation

from billing.pricing.money import usd_to_nano
from usage.importers.base import ImportFormatError, InputFile, ParseStats, open_text, parse_iso
from usage.models import LEDGER_METERED
from usage.records import Record, UsageFormatError, normalize_usage

SOURCE = "claude_code"


def project_name(cwd: str, file: InputFile) -> str:
    """Claude Code's own folder name for a working directory ('/Users/a/src' ->
    '-Users-a-src'); from the folder holding the file when the line has no cwd."""
    if cwd:
        return re.sub(r"[^A-Za-z0-9]", "-", cwd)
    parts = (file.member or str(file.path)).replace("\\", "/").split("/")
    return parts[-2] if len(parts) >= 2 else ""


def parse(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    best: dict[str, tuple[int, Record]] = {}
    for file in files:
        with open_text(file, stats) as text:
            for line_no, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                stats.rows_read += 1
                stats.location = (file.name, line_no)
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ImportFormatError(file.name, f"not a JSON line ({exc.msg}, at character {exc.pos})",
                                            line=line_no) from None
                except RecursionError:
                    raise ImportFormatError(file.name, "JSON nested too deeply", line=line_no) from None
                record = _record(entry, file, line_no)
                if record is None:
                    stats.rows_skipped += 1
                    continue
                previous = best.get(record.external_id)
                if previous is None or record.output_tokens > previous[1].output_tokens:
                    best[record.external_id] = (line_no, record)
                if previous is not None:
                    stats.duplicates += 1  # another snapshot of a response already seen
    for _, record in best.values():
        yield record


def _record(entry, file: InputFile, line_no: int) -> Record | None:
    if not isinstance(entry, dict) or entry.get("type") != "assistant":
        return None
    message = entry.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    model = message.get("model") or ""
    if not model or model == "<synthetic>":
        return None
    message_id = message.get("id") or ""
    if not message_id:
        raise ImportFormatError(file.name, "assistant line with usage but no message id", line=line_no,
                                column="message.id")
    ts = parse_iso(str(entry.get("timestamp") or ""))
    if ts is None:
        raise ImportFormatError(file.name, f"expected an ISO-8601 time, got {entry.get('timestamp')!r}",
                                line=line_no, column="timestamp")
    usage = message["usage"]
    try:
        tokens, _ = normalize_usage(usage, "anthropic")
    except UsageFormatError as exc:
        field, _, problem = str(exc).partition(": ")
        raise ImportFormatError(file.name, problem, line=line_no, column=f"message.{field}") from None
    request_id = entry.get("requestId") or ""
    reported = None
    if entry.get("costUSD") is not None:
        try:
            reported = usd_to_nano(Decimal(str(entry["costUSD"])))
        except InvalidOperation:
            raise ImportFormatError(file.name, f"expected dollars, got {entry['costUSD']!r}", line=line_no,
                                    column="costUSD") from None
    tier = str(usage.get("service_tier") or "")
    metadata = {"session_id": entry.get("sessionId") or ""}
    if entry.get("isSidechain"):
        metadata["sidechain"] = True
    if entry.get("gitBranch"):
        metadata["git_branch"] = entry["gitBranch"]
    return Record(
        external_id=f"{message_id}:{request_id}" if request_id else message_id,
        timestamp=ts,
        model=model,
        provider="anthropic",
        ledger=LEDGER_METERED,
        feature=project_name(str(entry.get("cwd") or ""), file),
        batch=tier == "batch",
        service_tier=tier,
        speed="fast" if usage.get("speed") == "fast" else "",
        reported_cost_nano=reported,
        metadata=metadata,
        origin=(file.name, line_no),
        **tokens,
    )
