"""What every importer shares: input files (plain, or zip members), strict text decoding,
header-by-name CSV reading, number parsing, and errors that name file, line and column."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from billing.pricing.rates import canonical_name
from usage.bounds import MAX_COUNT

# A hierarchical natural key: "day|a|b|…". A cost row whose key is a proper prefix of a
# token row's key describes (part of) the same spend; see usage.ingest merge mode.
SEP = "|"


class ImportFormatError(ValueError):
    """Bad input. The message names the file, line, column and what was expected."""

    def __init__(self, file: str, message: str, *, line: int | None = None, column: str = ""):
        self.file, self.line, self.column, self.detail = file, line, column, message
        where = file
        if line is not None:
            where += f", line {line}"
        if column:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


@dataclass
class InputFile:
    """One file to import: a path, or a member of a zip archive."""

    name: str  # shown in messages
    path: Path
    member: str = ""  # zip member name
    size: int = 0
    # the archive of a zip member, opened once for all its members (reopening it for each
    # member made big archives quadratic); closed by close_archives()
    archive: zipfile.ZipFile | None = field(default=None, repr=False, compare=False)

    @contextmanager
    def open_binary(self) -> Iterator[IO[bytes]]:
        if self.member:
            with self.archive.open(self.member) as fh:
                yield fh
        else:
            with open(self.path, "rb") as fh:
                yield fh

    def head(self, size: int = 65536) -> bytes:
        with self.open_binary() as fh:
            return fh.read(size)


def close_archives(files: list[InputFile]) -> None:
    for archive in {id(f.archive): f.archive for f in files if f.archive is not None}.values():
        archive.close()


@dataclass
class ParseStats:
    rows_read: int = 0
    rows_skipped: int = 0  # rows that carry no usage: empty buckets, other line types, …
    duplicates: int = 0  # rows repeating usage already read in this import (log snapshots)
    # Completed files' bytes plus the current file's position: import progress.
    _done_files: int = 0
    _position: Callable[[], int] | None = field(default=None, repr=False)
    # (file name, line) the parser is reading: where an error found later is reported
    location: tuple[str, int | None] = ("", None)

    def progress(self) -> int:
        try:
            current = self._position() if self._position else 0
        except (OSError, ValueError):
            current = 0
        return self._done_files + current


@contextmanager
def open_text(file: InputFile, stats: ParseStats | None = None) -> Iterator[IO[str]]:
    """UTF-8 (with or without BOM, any newline convention). Binary files and other
    encodings are rejected with a clear message instead of importing garbage."""
    head = file.head(8192)
    if b"\x00" in head:
        raise ImportFormatError(file.name, "this is a binary file, not a text export (found NUL bytes)")
    with file.open_binary() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        if stats is not None:
            stats._position = raw.tell
        try:
            yield text
        except UnicodeDecodeError as exc:
            raise ImportFormatError(
                file.name, f"not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} near "
                f"byte offset {raw.tell()}); export the file again as UTF-8"
            ) from exc
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ImportFormatError(file.name, f"a damaged zip member ({exc}); zip the folder again") from None
        finally:
            if stats is not None:
                stats._done_files += file.size
                stats._position = None


def located(records: Iterator, stats: ParseStats) -> Iterator:
    """Records with their origin (file, line): where the parser was when it yielded them,
    unless the parser set it (usage.bounds errors name it)."""
    for record in records:
        if record.origin is None:
            record.origin = stats.location
        yield record


@dataclass
class CsvRow:
    file: str
    line: int
    values: dict[str, str]

    def get(self, column: str, default: str = "") -> str:
        value = self.values.get(column)
        return default if value is None else value.strip()

    def error(self, column: str, message: str) -> ImportFormatError:
        return ImportFormatError(self.file, message, line=self.line, column=column)

    def int(self, column: str, *, required: bool = False) -> int:
        """Token counts: '1234', '1,234' and '1234.0' (OpenAI's dashboard) are all 1234."""
        raw = self.get(column)
        if raw == "":
            if required:
                raise self.error(column, "expected a whole number, got an empty cell")
            return 0
        if raw.isascii() and raw.isdigit() and len(raw) < 16:
            return int(raw)
        text = raw.replace(",", "").replace("_", "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self.error(column, f"expected a whole number, got {raw!r}") from None
        if not value.is_finite() or value != value.to_integral_value() or value < 0:
            raise self.error(column, f"expected a non-negative whole number, got {raw!r}")
        if value > MAX_COUNT:
            raise self.error(column, f"expected a whole number of at most 10^15, got {raw!r}")
        return int(value)

    def decimal(self, column: str, *, required: bool = True) -> Decimal | None:
        raw = self.get(column)
        if raw == "":
            if required:
                raise self.error(column, "expected an amount in dollars, got an empty cell")
            return None
        try:
            value = Decimal(raw.replace(",", "").lstrip("$"))
        except InvalidOperation:
            raise self.error(column, f"expected an amount in dollars, got {raw!r}") from None
        if not value.is_finite():
            raise self.error(column, f"expected an amount in dollars, got {raw!r}")
        return value

    def bool(self, column: str) -> bool:
        raw = self.get(column).lower()
        if raw in {"", "false", "0", "no", "f", "n"}:
            return False
        if raw in {"true", "1", "yes", "t", "y"}:
            return True
        raise self.error(column, f"expected true or false, got {self.get(column)!r}")


def header_of(file: InputFile) -> list[str]:
    """The CSV header names (lower-cased, stripped), or [] if the file has no CSV header."""
    head = file.head(65536)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        return []
    try:
        return [h.strip().lower() for h in next(csv.reader([text]))]
    except (csv.Error, StopIteration):
        return []


def read_csv(
    file: InputFile,
    stats: ParseStats,
    *,
    required: list[str],
    format_label: str,
) -> Iterator[CsvRow]:
    """Rows as {column name: value}, by header name. Unknown columns are ignored."""
    rows = csv_lines(file, stats, required=required, format_label=format_label)
    names = next(rows)
    for line, values in rows:
        yield CsvRow(file.name, line, dict(zip(names, values, strict=False)))


def csv_lines(
    file: InputFile,
    stats: ParseStats,
    *,
    required: list[str],
    format_label: str,
) -> Iterator:
    """The header's names (lower-cased, stripped) first, then (line, values) per row, each as
    wide as the header; blank rows are left out. For a parser that reads columns by index
    (names.index once per file): a dict per row was most of a 1M-row import's parsing."""
    with open_text(file, stats) as text:
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ImportFormatError(file.name, f"not a CSV file ({exc})", line=1) from None
        if not header:
            raise ImportFormatError(file.name, "the file is empty")
        names = [h.strip().lower() for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise ImportFormatError(
                file.name,
                f"not a {format_label}: missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (header is: {', '.join(names)})",
                line=1,
            )
        yield names
        width = len(names)
        name = file.name
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFormatError(name, f"malformed CSV ({exc})", line=reader.line_num) from None
            if len(values) != width:
                if not values or all(not v.strip() for v in values):
                    continue
                hint = " (an unquoted comma inside a value?)" if len(values) > width else ""
                raise ImportFormatError(
                    name, f"expected {width} values like the header, got {len(values)}{hint}",
                    line=reader.line_num,
                )
            if not values[0].strip() and all(not v.strip() for v in values):
                continue
            line = reader.line_num
            stats.rows_read += 1
            stats.location = (name, line)
            yield line, values


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]00:?00)?$")


def parse_day_or_time(row: CsvRow, column: str) -> tuple[datetime, str]:
    """'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM' (UTC) -> (aware datetime, 'HH:MM' or '')."""
    raw = row.get(column)
    if _DAY.match(raw):
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise row.error(column, f"expected a date YYYY-MM-DD, got {raw!r}") from None
        return datetime(d.year, d.month, d.day, tzinfo=UTC), ""
    m = _DAY_TIME.match(raw)
    if m:
        try:
            d = date.fromisoformat(m.group(1))
            ts = datetime(d.year, d.month, d.day, int(m.group(2)), int(m.group(3)), tzinfo=UTC)
        except ValueError:
            raise row.error(column, f"expected a UTC date or date and time, got {raw!r}") from None
        return ts, f"{m.group(2)}:{m.group(3)}"
    raise row.error(column, f"expected a UTC date YYYY-MM-DD or 'YYYY-MM-DD HH:MM', got {raw!r}")


def parse_iso(value: str) -> datetime | None:
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return ts.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


KEY_LENGTH = 255  # UsageRecord.external_id


def key(*parts: object) -> str:
    """A natural key, exact: each value whole, with '%' and the separator escaped, so two
    different rows never share a key. A key longer than external_id holds becomes its first
    part (the day) and a SHA-256 of the whole key."""
    text = unhashed_key(*parts)
    if len(text) <= KEY_LENGTH:
        return text
    return f"{_key_part(parts[0])[:64]}{SEP}#{hashlib.sha256(text.encode()).hexdigest()}"


def unhashed_key(*parts: object) -> str:
    """key() of these parts before it is cut to external_id's length."""
    return SEP.join(_key_part(p) for p in parts)


def _key_part(value: object) -> str:
    return str(value if value is not None else "").replace("%", "%25").replace(SEP, "%7C")


def exact_id(value: str) -> str:
    """A row's own id as its key: whole, or hashed when longer than external_id holds."""
    if len(value) <= KEY_LENGTH:
        return value
    return "#" + hashlib.sha256(value.encode()).hexdigest()


def context_is_long(label: str | None) -> bool:
    """Console '≤ 200k' and API '0-200k' are the standard window; anything else is long."""
    if not label:
        return False
    text = label.strip().lower().replace(" ", "")
    return text not in {"≤200k", "<=200k", "0-200k", "<200k"}


def cw_key(label: str | None) -> str:
    return "long" if context_is_long(label) else "short"


_DISPLAY_VERSION = re.compile(r"^\d+(\.\d+)?$")


def model_key(name: str) -> str:
    """One spelling for a model in both console exports: API ids lose their snapshot date,
    display names ('Claude 3.5 Sonnet 2024-10-22', 'Claude Haiku 4.5') become ids."""
    text = name.strip()
    if " " not in text:
        return canonical_name(text)
    words = text.lower().split()
    if re.match(r"^\d{4}-\d{2}-\d{2}$", words[-1]) or re.match(r"^\d{8}$", words[-1]):
        words = words[:-1]
    if len(words) == 3 and words[0] == "claude" and _DISPLAY_VERSION.match(words[1]):
        words = [words[0], words[1], words[2]]  # 'Claude 3.5 Sonnet' -> claude-3-5-sonnet
    return "-".join(w.replace(".", "-") for w in words)
