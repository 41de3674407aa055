"""costwatch.routers: page reads go to the replica, everything else to the primary."""

from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.test import RequestFactory

from billing.pricing.models import ModelPrice
from costwatch.routers import REPLICA, ReplicaRouter, replica_reads
from costwatch.tenant.models import Project
from usage.models import DailyUsage, UsageRecord

router = ReplicaRouter()


def _routes_during(method: str) -> dict:
    seen = {}

    def view(request):
        seen.update(
            rollups=router.db_for_read(DailyUsage), records=router.db_for_read(UsageRecord),
            prices=router.db_for_read(ModelPrice), session=router.db_for_read(Session),
            access=router.db_for_read(Project), write=router.db_for_write(DailyUsage),
        )
        return HttpResponse()

    replica_reads(view)(RequestFactory().generic(method, "/p/acme/"))
    return seen


def test_a_page_request_reads_reports_from_the_replica():
    assert _routes_during("GET") == {"rollups": REPLICA, "records": REPLICA, "prices": REPLICA,
                                     "session": None, "access": None, "write": "default"}
    assert _routes_during("HEAD")["rollups"] == REPLICA


def test_writes_and_everything_outside_page_requests_use_the_primary():
    during_post = _routes_during("POST")
    assert during_post["rollups"] is None and during_post["write"] == "default"
    # after the request (workers, commands, ingest): the primary
    assert router.db_for_read(DailyUsage) is None
    assert router.allow_migrate("default", "usage") and not router.allow_migrate(REPLICA, "usage")
