"""The formats costwatch imports, and detection from a file's header or shape.

Each format: parse(files, stats) -> Iterator[Record], plus its name, description, ledger
and source. Formats describing the same provider data share a source so that their
natural keys meet (a cost export merges onto the token export of the same usage).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from usage.importers import anthropic_admin, anthropic_console, claude_code, generic_csv, openai_org
from usage.importers.base import ImportFormatError, InputFile, ParseStats, header_of
from usage.models import LEDGER_BILLED, LEDGER_METERED
from usage.records import Batch, Record


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    ledger: str
    source: str
    parse: Callable[[Iterable[InputFile], ParseStats], Iterator[Record]]
    kind: str = ""  # billed formats: "tokens" or "costs" (usage.billed)
    # the same records in batches (usage.records.Batch), for formats that have them: what
    # imports store, without an object per row
    parse_batches: Callable[[Iterable[InputFile], ParseStats], Iterator[Batch]] | None = None


REGISTRY: dict[str, Format] = {
    f.name: f
    for f in [
        Format("anthropic_console_usage", "Anthropic Console usage export (claude_api_tokens_*.csv)",
               LEDGER_BILLED, anthropic_console.SOURCE, anthropic_console.parse_usage, "tokens",
               anthropic_console.parse_usage_batches),
        Format("anthropic_console_cost", "Anthropic Console cost export (claude_api_cost_*.csv)",
               LEDGER_BILLED, anthropic_console.SOURCE, anthropic_console.parse_cost, "costs"),
        Format("anthropic_usage_report", "Anthropic Admin API usage_report/messages (JSON)",
               LEDGER_BILLED, anthropic_admin.SOURCE, anthropic_admin.parse_usage, "tokens"),
        Format("anthropic_cost_report", "Anthropic Admin API cost_report (JSON)",
               LEDGER_BILLED, anthropic_admin.SOURCE, anthropic_admin.parse_cost, "costs"),
        Format("openai_usage_csv", "OpenAI dashboard completions usage export (CSV)",
               LEDGER_BILLED, openai_org.SOURCE, openai_org.parse_usage_csv, "tokens"),
        Format("openai_cost_csv", "OpenAI dashboard cost export (CSV)",
               LEDGER_BILLED, openai_org.SOURCE, openai_org.parse_cost_csv, "costs"),
        Format("openai_usage_api", "OpenAI Usage API /organization/usage/completions (JSON)",
               LEDGER_BILLED, openai_org.SOURCE, openai_org.parse_usage_api, "tokens"),
        Format("openai_costs_api", "OpenAI Costs API /organization/costs (JSON)",
               LEDGER_BILLED, openai_org.SOURCE, openai_org.parse_costs_api, "costs"),
        Format("claude_code", "Claude Code session logs (*.jsonl, or a zip of ~/.claude/projects)",
               LEDGER_METERED, claude_code.SOURCE, claude_code.parse),
        Format("generic_csv", "Generic CSV (timestamp or date, model, token columns)",
               LEDGER_METERED, generic_csv.SOURCE, generic_csv.parse),
    ]
}
FORMAT_CHOICES = ["auto", *REGISTRY]
ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def expand(file: InputFile) -> list[InputFile]:
    """A zip archive (a copied ~/.claude/projects) becomes its .jsonl members."""
    if not zipfile.is_zipfile(file.path):
        return [file]
    try:
        archive = zipfile.ZipFile(file.path)  # noqa: SIM115 (shared by the members, see close_archives)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportFormatError(file.name, f"a damaged zip archive ({exc})") from None
    members = [i for i in archive.infolist() if i.filename.endswith(".jsonl") and not i.is_dir()]
    try:
        _check_members(file, members)
    except ImportFormatError:
        archive.close()
        raise
    return [InputFile(name=f"{file.name}:{m.filename}", path=file.path, member=m.filename, size=m.file_size,
                      archive=archive) for m in members]


def _check_members(file: InputFile, members: list[zipfile.ZipInfo]) -> None:
    for member in members:
        if member.flag_bits & 0x1:
            raise ImportFormatError(f"{file.name}:{member.filename}", "an encrypted zip member; zip the "
                                    "folder again without a password")
        if member.compress_type not in ZIP_METHODS:
            raise ImportFormatError(f"{file.name}:{member.filename}", f"zip compression method "
                                    f"{member.compress_type} is not supported; use deflate (the default)")
    if not members:
        raise ImportFormatError(file.name, "a zip archive without .jsonl files (expected a zip of "
                                "~/.claude/projects)")


def detect(file: InputFile) -> str:
    """The format name, from the CSV header or the JSON shape. Raises ImportFormatError."""
    if file.member or zipfile.is_zipfile(file.path):
        return "claude_code"
    head = file.head(65536)
    if b"\x00" in head[:8192]:
        raise ImportFormatError(file.name, "this is a binary file, not a text export (found NUL bytes)")
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith(("{", "[")):
        return _detect_json(file, text)
    columns = set(header_of(file))
    if "usage_input_tokens_no_cache" in columns or "usage_output_tokens" in columns or (
        "model_version" in columns and "usage_date_utc" in columns
    ):
        return "anthropic_console_usage"
    if {"usage_date_utc", "token_type", "cost_usd"} <= columns:
        return "anthropic_console_cost"
    if {"start_time", "end_time"} <= columns and "amount_value" in columns:
        return "openai_cost_csv"
    if {"start_time", "end_time", "input_tokens"} <= columns:
        return "openai_usage_csv"
    if "model" in columns and ("timestamp" in columns or "date" in columns):
        return "generic_csv"
    shown = ", ".join(sorted(columns))[:200] or "no CSV header"
    raise ImportFormatError(file.name, f"unrecognised file (header: {shown}); pick the format "
                            "explicitly or use the generic CSV columns", line=1)


def _detect_json(file: InputFile, text: str) -> str:
    first_line = text.split("\n", 1)[0]
    try:
        entry = json.loads(first_line)
    except json.JSONDecodeError:
        entry = None
    if isinstance(entry, dict) and ("sessionId" in entry or entry.get("type") in {
        "user", "assistant", "system", "summary", "file-history-snapshot",
    }):
        return "claude_code"
    if '"starting_at"' in text and '"amount"' in text:
        return "anthropic_cost_report"
    if '"starting_at"' in text and ('"uncached_input_tokens"' in text or '"cache_read_input_tokens"' in text):
        return "anthropic_usage_report"
    if "organization.usage.completions" in text or ('"start_time"' in text and '"num_model_requests"' in text):
        return "openai_usage_api"
    if "organization.costs" in text or ('"start_time"' in text and '"amount"' in text):
        return "openai_costs_api"
    if entry is None and file.name.endswith(".jsonl"):
        return "claude_code"  # a session log whose first line is damaged: parse() says where
    raise ImportFormatError(file.name, "unrecognised JSON: expected an Anthropic usage_report / cost_report "
                            "page, an OpenAI usage / costs page, or Claude Code JSON lines")
