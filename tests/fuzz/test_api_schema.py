"""Issue 12: a bounded schemathesis run against the published OpenAPI schema (every
operation, generated and mutated requests, an ingest key and a logged-in session): no 500,
and every answer matches the schema it documents."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from costwatch.api import api
from costwatch.wsgi import application

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = application
schema.location = "/api/v1/openapi.json"


@pytest.fixture
def keep_connection():
    """The WSGI handler closes the database connection after each request (the test's
    transaction with it); Django's test client disconnects the same signals."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(keep_connection, project, ingest_key, django_capture_on_commit_callbacks):
    from tests.usage.dashboard_data import seed

    with django_capture_on_commit_callbacks(execute=True):
        seed(project)  # some data, so that reports have rows to answer with
    return {"Authorization": f"Bearer {ingest_key}"}


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_match_the_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers, checks=[not_a_server_error, response_schema_conformance])
