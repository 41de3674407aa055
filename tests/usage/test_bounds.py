"""usage.bounds' shortcuts give the answers of the checks they stand for: text-only metadata
accepted without serialising it, and a batch of rows checked per shared record, per time
and per chunk of counts (usage.records.Batch) as each of its records alone."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing.classes import BATCH_COUNTS
from usage import bounds
from usage.records import Batch, Record

texts = st.one_of(st.text(max_size=40), st.sampled_from(["", "a\x00b", "\\u0000", "C:\\dir", "\u00e9\U0001f600"]),
                  st.text(min_size=1000, max_size=1400))
values = st.one_of(texts, st.integers(), st.floats(), st.none(), st.booleans(), st.lists(st.integers(), max_size=2))


@settings(max_examples=600, deadline=None)
@given(metadata=st.one_of(st.dictionaries(texts, texts, max_size=20), st.dictionaries(texts, values, max_size=4),
                          st.lists(texts, max_size=2), texts))
def test_metadata_shortcut_agrees_with_its_json(metadata):
    """Where the shortcut accepts an object it is one json.dumps accepts; everywhere the
    answer is the serialised check's (NUL characters, a literal \\u0000, 16 KB)."""
    if bounds._small_text_object(metadata):
        assert bounds._serialised_metadata_problem(metadata) is None
    assert bounds.metadata_problem(metadata) == bounds._serialised_metadata_problem(metadata)


def test_metadata_shortcut_takes_an_importers_metadata():
    assert bounds._small_text_object({"workspace": "Research, EU", "inference_geo": "us",
                                      "format": "anthropic_console_usage"})
    assert not bounds._small_text_object({"workspace": "a\x00b"})
    assert not bounds._small_text_object({"workspace": "x" * 2000})  # could be past 16 KB escaped
    assert bounds.metadata_problem({"workspace": "x" * 2000}) is None  # …and is not


NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)
SHARED = Record(external_id="", timestamp=NOW, model="claude-opus-4-6", provider="anthropic", api_key="k",
                workspace="Research, EU", requests=0, metadata={"workspace": "Research, EU"})
# what may be wrong with a batch: a shared record's field, or a row's id, time or count
SHARED_FAULTS = [("model", "m" * 121), ("model", 5), ("provider", "a\x00"), ("api_key", "k" * 201),
                 ("requests", -1), ("requests", True), ("reported_cost_nano", 10**16 + 1), ("metadata", []),
                 ("metadata", {"w": "a\x00"}), ("metadata", {"w": "\\u0000"}), ("workspace", "w" * 201)]
ROW_FAULTS = [(1, "x" * 256), (1, "a\x00"), (1, None), (2, datetime(1999, 12, 31, tzinfo=UTC)),
              (2, NOW + timedelta(days=2)), (2, NOW.replace(tzinfo=None)), *((4, (i, bad)) for i, bad in [
                  (0, -1), (1, 10**15 + 1), (2, True), (3, 1.0), (8, 10**6 + 1)])]  # 8: reasoning > output


@settings(max_examples=800, deadline=None)
@given(shared=st.lists(st.tuples(st.sampled_from(["", "Default", "x" * 200]), st.one_of(st.none(), st.sampled_from(
           SHARED_FAULTS))), min_size=1, max_size=3),
       rows=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["2026-11-01|k", "x" * 255]),
                               st.sampled_from([NOW, datetime(2026, 11, 2, 6, tzinfo=timezone(timedelta(hours=-8)))]),
                               st.tuples(*[st.integers(0, 10**6)] * len(BATCH_COUNTS)),
                               st.one_of(st.none(), st.none(), st.none(), st.sampled_from(ROW_FAULTS))),
                     max_size=4))
def test_batch_check_agrees_with_each_record_alone(shared, rows):
    """A batch passes bounds.batch_within exactly when every record of it passes on its own
    (faults in a shared record, an id, a time, a count; rows of mixed shared records); a
    batch that fails is then checked record by record (usage.bulk)."""
    shared = [replace(SHARED, **{"workspace": workspace, **dict([fault] if fault else [])})
              for workspace, fault in shared]
    batch_rows = []
    for line, (i, ext, ts, counts, fault) in enumerate(rows, start=2):
        counts = list(counts)
        counts[BATCH_COUNTS.index("reasoning_tokens")] = 0
        row = [shared[i % len(shared)], ext, ts, ts.date(), counts, line]
        if fault is not None:
            where, value = fault
            if where == 4:
                counts[value[0]] = value[1]
            else:
                row[where] = value
        row[4] = tuple(counts)
        batch_rows.append(tuple(row))
    batch = Batch("f.csv", batch_rows)
    within = all(not bounds.problems(r, NOW) for r in batch.records())
    if bounds.batch_within(batch, NOW):
        assert within
    elif all(row[2].tzinfo for row in batch_rows):
        # (a naive time: problems() reads it as UTC; the shortcuts leave it to problems())
        assert not within
