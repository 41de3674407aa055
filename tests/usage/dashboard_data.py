"""A small, hand-computable data set for the dashboard tests (today = 2026-11-20 UTC)."""

from datetime import UTC, date, datetime

from usage.ingest import record_usage
from usage.records import Record

TODAY = date(2026, 11, 20)


def ts(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def seed(project) -> None:
    records = [
        # sonnet (prompts under its 200K long-context threshold): $3/M in, $15/M out:
        # 0.30 + 0.30 = $0.60
        Record(external_id="r1", timestamp=ts("2026-11-20"), model="claude-sonnet-4-5",
               feature="chat", end_user="u1", api_key="prod",
               input_tokens=100_000, output_tokens=20_000),
        # 100K cache reads at $0.30/M = $0.03 (uncached it would be $0.30)
        Record(external_id="r2", timestamp=ts("2026-11-19"), model="claude-sonnet-4-5",
               feature="search", end_user="u2", api_key="prod", cache_read_tokens=100_000),
        # haiku $1/M in, $5/M out: 1.00 + 1.00 = $2.00
        Record(external_id="r3", timestamp=ts("2026-11-10"), model="claude-haiku-4-5",
               feature="chat", end_user="u2", api_key="dev",
               input_tokens=1_000_000, output_tokens=200_000),
        # last month, before the same point (Oct 20): $0.30
        Record(external_id="r4", timestamp=ts("2026-10-15"), model="claude-sonnet-4-5",
               feature="chat", end_user="u1", api_key="prod", input_tokens=100_000),
        # last month, after the same point, inside the default 30 days: $0.30
        Record(external_id="r5", timestamp=ts("2026-10-25"), model="claude-sonnet-4-5",
               feature="chat", end_user="u1", api_key="prod", input_tokens=100_000),
        # batch gpt-4o-mini: (2 × 0.15 + 2 × 0.60) × 0.5 = $0.75 (without batch $1.50)
        Record(external_id="r6", timestamp=ts("2026-11-18"), model="gpt-4o-mini",
               feature="=HYPERLINK(\"http://x\")", end_user="@evil", api_key="prod", batch=True,
               input_tokens=2_000_000, output_tokens=2_000_000),
        # an unknown model: unpriced
        Record(external_id="r7", timestamp=ts("2026-11-17"), model="mystery-model",
               feature="chat", end_user="u1", api_key="prod", input_tokens=1000),
    ]
    record_usage(project=project, source="api", records=records)
