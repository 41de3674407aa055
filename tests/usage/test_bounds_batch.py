"""bounds.all_within (a batch checked column by column) refuses a batch exactly when the
field-by-field check refuses one of its records."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from usage import bounds
from usage.records import Record

GOOD = Record(external_id="a", timestamp=datetime(2026, 11, 2, 10, tzinfo=UTC), model="gpt-4o",
              input_tokens=10, output_tokens=5)


@pytest.mark.parametrize("change", [
    {"input_tokens": -1},
    {"output_tokens": 10**15 + 1},
    {"cache_read_tokens": True},
    {"requests": "1"},
    {"web_search_requests": 1.0},
    {"feature": "x" * 201},
    {"external_id": "x" * 256},
    {"end_user": "a\x00"},
    {"model": 5},
    {"reasoning_tokens": 6},
    {"reported_cost_nano": 10**16 + 1},
    {"metadata": {"branch": "x\x00"}},
    {"metadata": {"big": "x" * (bounds.MAX_METADATA_BYTES + 1)}},
    {"metadata": ["not", "an", "object"]},
    {"timestamp": datetime(1999, 12, 31, 23, 59, tzinfo=UTC)},
    {"timestamp": timezone.now() + timedelta(days=2)},
])
def test_one_record_out_of_bounds_fails_the_batch(change):
    bad = replace(GOOD, **change)
    assert bounds.problems(bad)
    for batch in ([bad], [GOOD, bad], [bad, GOOD, GOOD]):
        assert bounds.all_within(batch) is False


def test_a_batch_within_bounds():
    batch = [GOOD, replace(GOOD, external_id="b", metadata={"k": "v"}, reported_cost_nano=5, feature="x" * 200,
                           timestamp=timezone.now() + timedelta(hours=23))]
    assert [bounds.problems(r) for r in batch] == [[], []]
    assert bounds.all_within(batch) is True
    assert bounds.all_within([]) is True


def test_the_retention_horizon(settings):
    settings.USAGE_RAW_RETENTION_MONTHS = 1
    old = replace(GOOD, timestamp=timezone.now() - timedelta(days=100))
    new = replace(GOOD, timestamp=timezone.now())
    assert bounds.problems(old) and not bounds.problems(new)
    assert bounds.all_within([new, old]) is False
    assert bounds.all_within([new]) is True
