"""Insights benchmark: how long each insight takes on the demo project (90 days, ~80K
metered records), median of N runs, on whatever database DATABASE_URL names (SQLite by
default). Seeds the demo first if it is missing.

    .venv/bin/python bench/insights.py [--runs 5]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "costwatch.settings")

import django  # noqa: E402

django.setup()

from costwatch import clock  # noqa: E402
from costwatch.tenant.models import Project  # noqa: E402
from usage.demo import DEMO_SLUG, seed_demo  # noqa: E402
from usage.insights import anomalies, breakeven, explain, recommend, whatif  # noqa: E402
from usage.models import UsageRecord  # noqa: E402
from usage.reports.queries import SpendQuery, price_book  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    project = Project.objects.filter(slug=DEMO_SLUG).first() or seed_demo()[0]
    today = clock.utc_today()
    start = today - timedelta(days=29)
    q = SpendQuery(project=project, start=start, end=today)
    book = price_book()
    cases = {
        "explain 30 d vs 30 d": lambda: explain.explain_spend(
            q, compare_start=start - timedelta(days=30), compare_end=start - timedelta(days=1)),
        "whatif model=claude-haiku-4-5": lambda: whatif.whatif(
            q, whatif.parse_scenario(model="claude-haiku-4-5", resolve=book.resolve)),
        "whatif batch&features=nightly-digest": lambda: whatif.whatif(
            q, whatif.parse_scenario(scenario="batch", features="nightly-digest", resolve=book.resolve)),
        "anomalies 30 d, 3 scopes": lambda: anomalies.anomalies(project, start=start, end=today),
        "break-even, 3 plans": lambda: breakeven.breakeven(project, today=today),
        "recommendations 30 d": lambda: recommend.recommend(q, timezone=project.timezone),
    }
    records = UsageRecord.objects.filter(project=project, day__gte=start).count()
    print(f"demo project, {records:,} records in the last 30 days, median of {args.runs} runs")
    for name, fn in cases.items():
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        print(f"  {name:40s} {statistics.median(times) * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
