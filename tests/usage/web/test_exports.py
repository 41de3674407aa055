"""CSV export: the same filters as the page, and cells safe to open in a spreadsheet."""

import csv
import io

import pytest

from usage.web.exports import safe_cell

# pages see TODAY as the current UTC day; `data` (tests/usage/conftest.py) seeds the figures
pytestmark = pytest.mark.usefixtures("today")


def rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_gets_a_leading_apostrophe(value):
    assert safe_cell(value) == "'" + value


def test_plain_values_are_untouched():
    assert safe_cell("chat") == "chat"
    assert safe_cell(-3) == "-3"
    assert safe_cell(None) == ""
    assert safe_cell(True) == "true"


def test_breakdown_csv_uses_the_page_filters_and_escapes(logged_in, data):
    r = logged_in.get("/p/acme/export/breakdown.csv?by=feature")
    assert r["Content-Disposition"] == 'attachment; filename="acme-feature-2026-10-22-2026-11-20.csv"'
    out = {row["feature"]: row for row in rows(r)}
    assert set(out) == {"chat", "search", "'=HYPERLINK(\"http://x\")"}
    assert out["chat"]["cost_usd"] == "2.900000000"
    assert out["chat"]["requests"] == "4"
    assert out["chat"]["unpriced_records"] == "1"
    assert out["search"]["cache_hit_rate"] == "1.0"
    assert out["search"]["cache_savings_usd"] == "0.270000000"


def test_breakdown_csv_by_user_escapes_at_sign(logged_in, data):
    out = [row["user"] for row in rows(logged_in.get("/p/acme/export/breakdown.csv?by=user"))]
    assert out == ["u2", "u1", "'@evil"]  # $2.03, $0.90, $0.75


def test_daily_csv_has_every_day_of_the_range(logged_in, data):
    out = rows(logged_in.get("/p/acme/export/daily.csv?range=7d"))
    assert [r["day_utc"] for r in out] == [f"2026-11-{d}" for d in range(14, 21)]
    assert out[-1]["cost_usd"] == "0.600000000"
    assert out[4]["batch_savings_usd"] == "0.750000000"  # Nov 18


def test_records_csv_follows_filters_in_project_timezone(logged_in, data, project):
    project.timezone = "Europe/Berlin"
    project.save()
    out = rows(logged_in.get("/p/acme/export/records.csv?user=%40evil"))
    assert len(out) == 1
    assert out[0]["end_user"] == "'@evil"
    assert out[0]["feature"] == "'=HYPERLINK(\"http://x\")"
    assert out[0]["timestamp"] == "2026-11-18T11:00:00+01:00"
    assert out[0]["cost_usd"] == "0.750000000"
    assert out[0]["cost_without_batch_usd"] == "1.500000000"
