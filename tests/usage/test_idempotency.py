"""The id sets that usage.idempotency.lock_ids and usage.ingest._stored_ids send to
PostgreSQL as one JSON parameter (id_rows): every id reaches the server as it was sent."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from tests.conftest import need
from usage.idempotency import id_rows
from usage.ingest import record_usage
from usage.records import Record

# what JSON escapes or encodes: quotes, backslashes, control characters, non-ASCII, and
# the text of an escape
AWKWARD_IDS = ['q"uote', "back\\slash", "tab\there\nline", "é😀", "\\u0000", "x\\\"y", "\x1f", "{a,b}", "NULL"]


def record(external_id, day=3):
    return Record(external_id=external_id, timestamp=datetime(2026, 11, day, 10, tzinfo=UTC), model="gpt-4o",
                  input_tokens=100, output_tokens=10)


@pytest.mark.services
@pytest.mark.django_db
def test_the_server_reads_back_each_id_as_sent():
    need(connection.vendor == "postgresql", "id_rows is PostgreSQL's")
    for ids in (AWKWARD_IDS, [], ["a", "a"]):
        rows, param = id_rows(ids)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT array_agg(i) FROM {rows} i", [param])
            assert (cursor.fetchone()[0] or []) == ids


def test_what_json_would_change_goes_as_a_text_array():
    assert id_rows(["a", "b\x00"]) == ("unnest(%s::text[])", ["a", "b\x00"])  # psycopg refuses it, as before
    assert id_rows(["\ud800"]) == ("unnest(%s::text[])", ["\ud800"])  # orjson refuses a lone surrogate
    assert id_rows(["a", 'q"uote', "é"]) == ("json_array_elements_text(%s::json)", '["a","q\\"uote","é"]')


@pytest.mark.django_db
def test_awkward_ids_resent_on_another_day_are_duplicates(project):
    first = record_usage(project=project, source="api", records=[record(i) for i in AWKWARD_IDS])
    again = record_usage(project=project, source="api", records=[record(i, day=4) for i in [*AWKWARD_IDS, "new"]])
    assert (first.accepted, again.accepted, again.duplicates) == (len(AWKWARD_IDS), 1, len(AWKWARD_IDS))
