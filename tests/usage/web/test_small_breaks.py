"""Issue 12, item 11 (smaller breaks): CSV cells starting with a line feed, a 6to4 webhook
address, chunked ingest bodies."""

import io
import ipaddress
import json

import pytest

from billing.webhooks import non_public
from usage.models import UsageRecord
from usage.web.exports import safe_cell


@pytest.mark.parametrize("value", ["\n=1+1", "\r\n=cmd", "\n@SUM(A1)"])
def test_csv_cell_starting_with_a_line_break_is_text(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize(("address", "kind"), [
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:a00:5::1", "private"),  # 6to4 of 10.0.0.5
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo, client 10.0.0.1
])
def test_6to4_and_teredo_addresses_are_judged_by_the_ipv4_inside(address, kind):
    assert kind in non_public(ipaddress.ip_address(address))


@pytest.mark.django_db
def test_chunked_ingest_body_is_read(api_client, project):
    body = json.dumps({"model": "gpt-4o", "input_tokens": 10, "output_tokens": 1}).encode()
    response = api_client.post("/api/v1/events", data=body, content_type="application/json",
                               HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="",
                               **{"wsgi.input": io.BytesIO(body)})  # as a server passes it, de-chunked
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert UsageRecord.objects.count() == 1
