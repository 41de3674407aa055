"""Budget alerts stay exactly-once when rollups coalesce: many ingests of a day queue one
rollup, whose day_rolled_up triggers one budget check (eager Celery, real SMTP)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import AlertEvent
from tests.billing.factories import make_budget, smtp_server, use_smtp
from usage.ingest import record_usage
from usage.models import DirtyDay
from usage.records import Record

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(settings):
    with smtp_server() as (box, port):
        use_smtp(settings, port)
        yield box


def ingest_five(project, round_):
    """Five ingests today, $3.60 each (240,000 output tokens of Sonnet 4.5 at $15/M)."""
    now = timezone.now()
    for n in range(5):
        record_usage(project=project, source="api", records=[
            Record(external_id=f"r{round_}-{n}", timestamp=now, model="claude-sonnet-4-5",
                   output_tokens=240_000)])


def test_coalesced_rollups_fire_each_threshold_once(project, inbox, django_capture_on_commit_callbacks):
    make_budget(project, amount_usd=Decimal("30"))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        ingest_five(project, 1)
    assert len(queued) == 1  # one rollup for the five ingests
    queued[0]()  # the rollup, then the budget check: $18 of $30
    assert [e.threshold for e in AlertEvent.objects.all()] == [50]

    with django_capture_on_commit_callbacks(execute=False) as queued:
        ingest_five(project, 2)
    assert len(queued) == 1
    queued[0]()  # $36 of $30: 75, 90 and 100 % at once, one email
    queued[0]()  # the same rollup delivered twice: the mark is gone, nothing recomputed or sent
    assert not DirtyDay.objects.exists()
    assert sorted(e.threshold for e in AlertEvent.objects.all()) == [50, 75, 90, 100]
    assert len(inbox.messages) == 2
    assert "$36.00 of $30.00" in inbox.subjects()[-1]
