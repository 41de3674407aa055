"""usage.bulk, the import fast path: a Console usage export stored from batches of tuples
holds exactly the rows that the general path (a Record and a Row per row) stores, column by
column, and reports the same counts; a key repeated across batches, a row out of bounds or
a bad cell while a batch is in flight, and re-imports behave as on the general path."""

from dataclasses import replace
from pathlib import Path

import pytest
from django.db import connection

from costwatch.tenant.models import Project
from usage import bulk, ingest
from usage.importers import REGISTRY, anthropic_console
from usage.imports import ImportFailed, run_import
from usage.models import ImportJob, UsageRecord

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "samples"
HEADER = ("usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
          "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
          "usage_output_tokens,web_search_count,inference_geo,speed\n")
# every kind of scope: long context, fast mode, batch, a regional (us) and a global geo,
# web searches, a model without a price, hourly and daily rows, two days and two months
MIXED = HEADER + "".join([
    "2026-03-01,claude-opus-4-6,k,Default,standard,> 200k,1000,10,20,30,100,0,global,\n",
    "2026-03-01,claude-opus-4-6,k,Default,standard,≤ 200k,1000,0,0,0,100,0,global,fast\n",
    '2026-03-01,claude-haiku-4-5-20251001,k2,"Research, EU",batch,≤ 200k,5000,0,0,70,400,0,not_available,\n',
    "2026-03-01,claude-sonnet-4-6,k,Prod,standard,≤ 200k,1284551,302118,0,8841203,211874,12,us,\n",
    "2026-03-01,claude-unknown-9,k,Default,standard,≤ 200k,10,0,0,0,1,0,global,\n",
    "2026-03-01,claude-sonnet-4-6,k,Default,standard,≤ 200k,0,0,0,0,0,0,global,\n",  # all zero: skipped
    "2026-03-02 05:00,claude-sonnet-4-6,k,Default,standard,≤ 200k,7,0,0,0,3,1,global,\n",
    "2026-03-02 06:00,claude-sonnet-4-6,k,Default,standard,≤ 200k,7,0,0,0,3,0,global,\n",
    "2026-04-30,claude-opus-4-6,k,Default,priority,≤ 200k,1000,0,0,0,100,0,global,\n",
    "2026-04-30,claude-haiku-4-5,k,Default,standard,≤ 200k,1,2,3,4,5,0,us,\n",
])
FIELDS = [f.attname for f in UsageRecord._meta.concrete_fields if f.attname not in {"id", "project_id",
                                                                                     "import_job_id"}]
COUNTED = ["rows_read", "rows_skipped", "records_added", "records_replaced", "records_merged", "duplicates",
           "records_unpriced", "cost_nano", "first_day", "last_day"]


@pytest.fixture
def small_batches(monkeypatch):
    """Three rows a batch, so that a few rows make several batches (one in flight while the
    next is built); the general path's chunks as small (a key repeated in a later chunk is
    restated, in the same chunk the later row wins as a duplicate)."""
    monkeypatch.setattr(anthropic_console, "BATCH_ROWS", 3)
    monkeypatch.setattr(ingest, "CHUNK", 3)


@pytest.fixture
def copies(monkeypatch):
    """The batches the fast path stored."""
    stored = []
    submit = bulk.Writer.submit

    def counted(self, prepared):
        stored.append(len(prepared.tuples))
        return submit(self, prepared)

    monkeypatch.setattr(bulk.Writer, "submit", counted)
    return stored


def general_path(monkeypatch):
    """The console usage format read as Records, one by one (parse_usage), as every other
    format is."""
    monkeypatch.setitem(REGISTRY, "anthropic_console_usage",
                        replace(REGISTRY["anthropic_console_usage"], parse_batches=None))


def stored(project) -> list[tuple]:
    """The project's rows as stored (NULL for an implied value, usage.models), by id."""
    columns = ", ".join(connection.ops.quote_name(UsageRecord._meta.get_field(f).column) for f in FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {UsageRecord._meta.db_table} WHERE project_id = %s", [project.pk])
        rows = cursor.fetchall()
    ext, day = FIELDS.index("external_id"), FIELDS.index("day")
    return sorted(rows, key=lambda row: (row[ext], str(row[day])))


def counted(summary) -> dict:
    return {name: getattr(summary, name) for name in COUNTED}


def both_paths(monkeypatch, paths) -> tuple:
    fast, general = (Project.objects.create(slug=slug, name=slug) for slug in ("fast", "general"))
    by_batches = [counted(run_import(project=fast, paths=paths))]
    with monkeypatch.context() as m:
        general_path(m)
        by_records = [counted(run_import(project=general, paths=paths))]
    return (stored(fast), by_batches), (stored(general), by_records)


@pytest.mark.parametrize("sample", ["anthropic_console_usage.csv", "anthropic_console_usage_hourly.csv",
                                    "anthropic_console_usage_2025_legacy.csv", None])
def test_batches_store_what_records_store(monkeypatch, tmp_path, small_batches, copies, sample):
    path = SAMPLES / sample if sample else tmp_path / "mixed.csv"
    if sample is None:
        path.write_text(MIXED, encoding="utf-8")
    fast, general = both_paths(monkeypatch, [path])
    assert copies, "the fast path stored nothing"
    assert fast == general
    rows = fast[0]
    assert len(rows) > 1
    if sample is None:
        assert any(row[FIELDS.index("cost_nano")] is None for row in rows)  # the unknown model
        assert any(row[FIELDS.index("cache_write_1h_tokens")] is None for row in rows)  # 0: stored as NULL
        assert len({row[FIELDS.index("day")].month for row in rows}) == 2


def test_a_key_repeated_in_a_later_batch_restates_as_on_the_general_path(monkeypatch, tmp_path, small_batches,
                                                                         copies):
    """The later batch's COPY meets the stored key: rolled back alone, then merged by lookup
    (one row replaced, one duplicate), whatever batch the row landed in."""
    lines = MIXED.splitlines(keepends=True)
    changed = lines[1].replace(",1000,10,20,30,100,", ",1000,10,20,30,999,")
    path = tmp_path / "twice.csv"
    path.write_text("".join([*lines, lines[2], changed]), encoding="utf-8")
    fast, general = both_paths(monkeypatch, [path])
    assert fast == general
    assert (fast[1][0]["records_replaced"], fast[1][0]["duplicates"]) == (1, 1)
    assert copies


def test_count_cells_the_fast_path_reads_as_the_general_path(monkeypatch, tmp_path, small_batches, copies):
    """Empty cells, leading zeros past 15 digits, 10^15 itself: what CsvRow.int reads them as."""
    path = tmp_path / "counts.csv"
    path.write_text(HEADER + "".join([
        "2026-03-01,claude-haiku-4-5,k,Default,standard,≤ 200k,,7,,0,3,,global,\n",
        "2026-03-01,claude-haiku-4-5,k2,Default,standard,≤ 200k,00000000000000000012,0,0,0,3,0,global,\n",
        "2026-03-01,claude-unknown-9,k3,Default,standard,≤ 200k,1000000000000000,0,0,0,0,0,global,\n",  # unpriced
        "2026-03-01,claude-haiku-4-5,k4,Default,standard,≤ 200k,5,0,0,0,1,0,global,\n",
    ]), encoding="utf-8")
    fast, general = both_paths(monkeypatch, [path])
    assert copies and fast == general
    inputs = sorted(row[FIELDS.index("input_tokens")] or 0 for row in fast[0])  # 0 is stored as NULL
    assert inputs == [0, 5, 12, 10**15]


def test_reimport_of_a_fast_import_is_all_duplicates(project, small_batches, copies):
    first = run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    before = stored(project)
    again = run_import(project=project, paths=[SAMPLES / "anthropic_console_usage.csv"])
    assert copies and stored(project) == before
    assert (again.records_added, again.duplicates, again.cost_nano) == (0, first.records_added, 0)


@pytest.mark.parametrize(("row", "where"), [
    ("2099-01-01,claude-haiku-4-5,k,Default,standard,≤ 200k,1,0,0,0,1,0,global,", "line 9, column 'timestamp'"),
    ("2026-03-01,claude-opus-4-6,k,Default,standard,≤ 200k,999999999999999,0,0,0,0,0,global,",
     "line 9, column 'cost'"),
    (f"2026-03-01,claude-haiku-4-5,k,{'w' * 201},standard,≤ 200k,1,0,0,0,1,0,global,", "line 9, column 'workspace'"),
    ("2026-03-01,claude-haiku-4-5,k,Default,standard,≤ 200k,1,0,0,0,²,0,global,",
     "line 9, column 'usage_output_tokens'"),
    ("2026-03-01,claude-haiku-4-5,k,Default,standard,≤ 200k,1000000000000001,0,0,0,1,0,global,",
     "line 9, column 'usage_input_tokens_no_cache': expected a whole number of at most 10"),
    (f"2026-03-01,claude-haiku-4-5,k,Default,standard,≤ 200k,1,0,0,0,{'9' * 5000},0,global,",
     "line 9, column 'usage_output_tokens': expected a whole number of at most 10"),
])
def test_a_bad_row_while_a_batch_is_in_flight_fails_the_import_by_its_line(project, tmp_path, small_batches, row,
                                                                          where):
    lines = MIXED.splitlines()
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([*lines[:8], row, *lines[8:]]) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match=f"bad.csv, {where}"):
        run_import(project=project, paths=[path])
    assert UsageRecord.objects.count() == 0
    assert ImportJob.objects.get().status == "failed"


def _records() -> list:
    """Records of every pricing case a request meets: per-request and aggregate, long context
    by size and as said, peak hours, fast mode by model id, tiers, regions, tool calls,
    unpriced models and tiers, a provider to be found, metadata."""
    from datetime import UTC, datetime
    from itertools import product

    from usage.records import Record

    cases = product(
        ["claude-sonnet-4-5-20250929", "claude-opus-4-6-fast", "gpt-5", "deepseek-v4-pro", "no-such-model-1"],
        [datetime(2026, 11, 2, 3, 0, tzinfo=UTC), datetime(2026, 11, 2, 23, 59, 59, 5, tzinfo=UTC)],
        [(1, None), (1, True), (4, None), (3, False)],  # (requests, long_context)
        [("", "", "", 0), ("", "priority", "us", 2), ("", "flex", "", 0), ("openai", "", "eu", 0)],
        [(10, 0), (250_000, 4096)],  # (input, cache read)
    )
    return [Record(external_id=f"r{n}", timestamp=ts, model=model, provider=provider, requests=requests,
                   long_context=long_context, service_tier=tier, region=region, web_search_requests=searches,
                   input_tokens=tokens, cache_read_tokens=cached, output_tokens=n % 900, batch=n % 7 == 0,
                   feature="f", end_user="u" if n % 2 else "", metadata={"n": n} if n % 3 else {})
            for n, (model, ts, (requests, long_context), (provider, tier, region, searches), (tokens, cached))
            in enumerate(cases)]


def _plain(line: tuple) -> tuple:
    """A tuple with its JSON (PostgreSQL: a Jsonb of bytes) as the bytes."""
    from psycopg.types.json import Jsonb

    return tuple(value.obj if isinstance(value, Jsonb) else value for value in line)


def test_a_records_tuple_is_its_rows(project):
    """bulk.Builder.line (the API's path) makes the tuple build_row and apply_price make of
    the record's row, with its day and cost."""
    from billing.pricing.rates import PriceBook

    book = PriceBook.current()
    builder = bulk.Builder(project_id=project.pk, source="api", import_job_id=None, book=book)
    records = _records()
    priced = 0
    for record in records:
        row = ingest.build_row(project=project, source="api", record=record, book=book, checked=True)
        line, day, cost = builder.line(record)
        assert (_plain(line), day, cost) == (_plain(builder.row_line(row)), row.day, row.cost_nano), record
        priced += cost is not None
    assert 0 < priced < len(records)
