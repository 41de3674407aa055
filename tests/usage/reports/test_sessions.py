"""Claude Code sessions and 5-hour blocks, from imported session logs."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from billing.pricing.classes import PRICED_COLUMNS
from usage.imports import run_import
from usage.reports.sessions import blocks, sessions, turns

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def row(ts: datetime, cost: int | None = 1_000_000_000, model: str = "claude-sonnet-4-6", session: str = "s1") -> dict:
    return {"timestamp": ts, "model": model, "priced_model": "", "feature": "app",
            "metadata": {"session_id": session}, "requests": 1, "cost_nano": cost,
            **dict.fromkeys(PRICED_COLUMNS, 0), "input_tokens": 10, "output_tokens": 5}


@pytest.mark.django_db
def test_the_sample_logs_give_one_session_per_file_with_the_import_total(project):
    run_import(project=project, paths=[SAMPLES / "claude_code_session.jsonl",
                                       SAMPLES / "claude_code_session_resumed.jsonl"])
    found = sessions(turns(project, start=date(2020, 1, 1), end=date(2030, 1, 1)))
    # the resumed file's copy of a turn is deduplicated: it stays in its first session
    assert sorted(s.session_id[:8] for s in found) == ["7f3c2a91", "b2e81c4f"]
    assert sum(s.turns for s in found) == 4
    assert sum(s.cost_nano for s in found) == 459_685_000  # docs/formats.md §5: $0.459685


def test_a_block_starts_at_the_full_hour_and_ends_five_hours_later():
    rows = [row(at(9, 40)), row(at(13, 59)), row(at(14, 0)), row(at(14, 30))]
    found = list(reversed(blocks(rows, now=at(23))))
    assert [(b.start, b.turns) for b in found] == [(at(9), 2), (at(14), 2)]
    assert not any(b.active for b in found)


def test_five_hours_without_a_turn_start_a_new_block():
    rows = [row(at(1)), row(at(6, 30, day=10)), row(at(2, day=11))]
    assert [b.start for b in reversed(blocks(rows, now=at(3, day=12)))] == [at(1), at(6), at(2, day=11)]


def test_the_active_block_burn_rate_and_projection():
    # $1 at 10:15, $1 at 10:45: $2 over 30 minutes = $4/h; at 11:00, 4 h left -> $2 + $16
    rows = [row(at(10, 15)), row(at(10, 45))]
    (block,) = blocks(rows, now=at(11))
    assert block.active and block.burn_rate_nano() == 4_000_000_000
    assert block.projected_nano(at(11)) == 18_000_000_000
    (ended,) = blocks(rows, now=at(15, 1))
    assert not ended.active and ended.projected_nano(at(15, 1)) is None


def test_sessions_sum_per_session_and_name_models_by_cost():
    rows = [row(at(9)), row(at(9, 30), model="claude-haiku-4-5", cost=10), row(at(12), cost=None),
            row(at(8), session="s2")]
    first, second = sessions(rows)
    assert (first.session_id, first.turns, first.cost_nano, first.unpriced) == ("s1", 3, 1_000_000_010, 1)
    assert first.model_names == ["claude-sonnet-4-6", "claude-haiku-4-5"]
    assert first.duration == timedelta(hours=3)
    assert second.session_id == "s2"
