"""Reading saved API pages: one page object, a list of pages, or one page per line."""

from __future__ import annotations

import json
from collections.abc import Iterator

from usage.bounds import MAX_COUNT
from usage.importers.base import ImportFormatError, InputFile, ParseStats, open_text


def read_pages(file: InputFile, stats: ParseStats) -> Iterator[tuple[int, dict]]:
    """(index, page) for each saved page. API pages are bounded (≤ 31 buckets), so each is
    loaded whole; a file of many pages is read one line at a time when saved as JSON lines."""
    with open_text(file, stats) as text:
        first = text.read(1)
        while first and first.isspace():
            first = text.read(1)
        if first == "":
            raise ImportFormatError(file.name, "the file is empty")
        if first == "[":
            body = first + text.read()
            pages = _loads(file, body, 1)
            if not isinstance(pages, list):
                raise ImportFormatError(file.name, "expected a list of API pages")
            for index, page in enumerate(pages, start=1):
                stats.location = (file.name, index)
                yield index, _page(file, page, index)
            return
        rest = first + text.read()
        try:
            page = json.loads(rest)
        except json.JSONDecodeError:
            page = None
        except RecursionError:
            raise ImportFormatError(file.name, "JSON nested too deeply", line=1) from None
        if page is not None:
            stats.location = (file.name, 1)
            yield 1, _page(file, page, 1)
            return
        for line_no, line in enumerate(rest.splitlines(), start=1):
            if line.strip():
                stats.location = (file.name, line_no)
                yield line_no, _page(file, _loads(file, line, line_no), line_no)


def _loads(file: InputFile, text: str, line: int):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(file.name, f"not valid JSON ({exc.msg}, at column {exc.colno})",
                                line=line + exc.lineno - 1) from None
    except RecursionError:
        raise ImportFormatError(file.name, "JSON nested too deeply", line=line) from None


def _page(file: InputFile, page, where: int) -> dict:
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise ImportFormatError(file.name, "expected an API page object with a \"data\" list of buckets",
                                line=where)
    return page


def bucket_results(file: InputFile, page: dict, where: int, stats: ParseStats) -> Iterator[tuple[dict, dict]]:
    """(bucket, result) pairs; empty buckets are counted as skipped, not errors."""
    for bucket in page["data"]:
        if not isinstance(bucket, dict) or not isinstance(bucket.get("results", []), list):
            raise ImportFormatError(file.name, "expected each bucket to be an object with a \"results\" list",
                                    line=where)
        results = bucket.get("results") or []
        if not results:
            stats.rows_read += 1
            stats.rows_skipped += 1
            continue
        for result in results:
            stats.rows_read += 1
            if not isinstance(result, dict):
                raise ImportFormatError(file.name, "expected each result to be an object", line=where)
            yield bucket, result


def token_int(file: InputFile, where: int, value, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ImportFormatError(file.name, f"expected a whole number from 0 to 10^15, got {value!r}",
                                line=where, column=name)
    return value
