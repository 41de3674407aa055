"""sync_prices / check_prices against files and a local HTTP server (never the internet)."""

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.pricing import sources
from billing.pricing.catalog import load_catalog
from billing.pricing.models import ModelPrice, PriceChange
from billing.tasks import sync_prices
from usage.ingest import record_usage
from usage.models import UsageRecord
from usage.records import Record

pytestmark = pytest.mark.django_db

LITELLM = {
    "sample_spec": {"input_cost_per_token": 0},
    # new to the catalog: $3 / $12 per M, 272K tier at 6 / 18, priority 6 / 24, batch half
    "gpt-9-test": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 3e-06,
                   "output_cost_per_token": 1.2e-05, "cache_read_input_token_cost": 3e-07,
                   "input_cost_per_token_above_272k_tokens": 6e-06, "output_cost_per_token_above_272k_tokens": 1.8e-05,
                   "input_cost_per_token_priority": 6e-06, "output_cost_per_token_priority": 2.4e-05,
                   "input_cost_per_token_batches": 1.5e-06, "source": "https://example.test/pricing"},
    # curated model with a different price: curated wins, not changed
    "claude-sonnet-5-5": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 9e-06,
                          "output_cost_per_token": 1e-05},
    # a dated spelling of a curated model: not added
    "claude-haiku-4-5-20251001": {"litellm_provider": "anthropic", "input_cost_per_token": 1e-06,
                                  "output_cost_per_token": 5e-06},
    "vertex_ai/gemini-9": {"litellm_provider": "vertex_ai", "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06},
}


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def litellm_file(tmp_path):
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(LITELLM))
    return path


def test_litellm_mapping_per_million():
    rows = sources.from_litellm(LITELLM).latest()
    row = rows["gpt-9-test"]
    assert (row["input"], row["output"], row["cache_read"]) == (Decimal(3), Decimal(12), Decimal("0.3"))
    assert (row["long_context_threshold"], row["lc_input"], row["lc_output"]) == (272_000, Decimal(6), Decimal(18))
    assert (row["priority_input"], row["batch_discount"]) == (Decimal(6), Decimal("0.5"))
    assert "vertex_ai/gemini-9" not in rows and "gemini-9" not in rows


def test_diff_apply_idempotent_and_reprices_unpriced(project, litellm_file, django_capture_on_commit_callbacks):
    load_catalog()
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[Record(
            external_id="x1", timestamp=datetime(2026, 11, 2, 12, tzinfo=UTC), model="gpt-9-test",
            input_tokens=1000, output_tokens=1000)])
    assert UsageRecord.objects.get(external_id="x1").cost_nano is None

    diff = run("sync_prices", "--source", "litellm", "--file", str(litellm_file))
    assert "+ gpt-9-test (openai): new model" in diff and "claude" not in diff
    assert not ModelPrice.objects.filter(model="gpt-9-test").exists()  # a diff changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        applied = run("sync_prices", "--source", "litellm", "--file", str(litellm_file), "--apply")
    assert "1 models changed" in applied and "re-priced 1 unpriced records" in applied
    price = ModelPrice.objects.get(model="gpt-9-test")
    assert (price.origin, price.effective_from, price.input) == ("synced", sources.NO_START, Decimal(3))
    assert PriceChange.objects.filter(model="gpt-9-test", field="model", source="litellm").count() == 1
    # 1000 × 3 + 1000 × 12 = 15,000 µ$
    assert UsageRecord.objects.get(external_id="x1").cost_nano == 15_000_000
    # the curated Sonnet 5.5 row is untouched
    assert ModelPrice.objects.get(model="claude-sonnet-5-5").input == Decimal(2)

    again = run("sync_prices", "--source", "litellm", "--file", str(litellm_file), "--apply")
    assert "0 models changed" in again and PriceChange.objects.count() == 1


def test_a_changed_synced_price_is_a_new_row_from_today(litellm_file, tmp_path):
    load_catalog()
    run("sync_prices", "--source", "litellm", "--file", str(litellm_file), "--apply")
    changed = dict(LITELLM, **{"gpt-9-test": dict(LITELLM["gpt-9-test"], output_cost_per_token=1.5e-05)})
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(changed))
    diff = run("sync_prices", "--source", "litellm", "--file", str(path))
    assert "~ gpt-9-test output: 12 -> 15" in diff.replace(".000000", "")
    run("sync_prices", "--source", "litellm", "--file", str(path), "--apply")
    rows = list(ModelPrice.objects.filter(model="gpt-9-test").order_by("effective_from").values_list("output", flat=True))
    assert rows == [Decimal(12), Decimal(15)]  # history kept
    assert PriceChange.objects.get(field="output").old.startswith("12")


@pytest.fixture
def server(litellm_file):
    body = litellm_file.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/prices.json"
    httpd.shutdown()
    httpd.server_close()


def test_url_from_a_local_http_server(server):
    load_catalog()
    out = run("sync_prices", "--source", "litellm", "--url", server)
    assert "+ gpt-9-test (openai): new model" in out


def test_daily_task_applies_and_reports(server, settings):
    load_catalog()
    settings.COSTWATCH_PRICE_SYNC_URL = server
    assert sync_prices() == {"changed": 1, "models": ["gpt-9-test"], "fields": 1, "repriced": 0}
    assert sync_prices()["changed"] == 0


def test_bad_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="litellm: not JSON \\(line 1"):
        run("sync_prices", "--source", "litellm", "--file", str(bad))
    with pytest.raises(CommandError, match="does not exist"):
        run("sync_prices", "--source", "litellm", "--file", str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="give --file"):
        run("sync_prices", "--source", "litellm")


def test_genai_prices_bundled_and_check_prices_reports_drift(litellm_file):
    load_catalog()
    rows = sources.bundled_genai_prices().latest()
    assert rows["claude-sonnet-5-5"]["input"] == Decimal(2)
    report = run("check_prices", "--litellm-file", str(litellm_file))
    # litellm's (made-up) Sonnet 5.5 input of 9 disagrees with the curated 2
    assert "claude-sonnet-5-5 input: 2.000000 -> 9" in report
