"""Issue 12: a bounded hypothesis run over mutated sample exports: every importer either
stores the file or refuses it with an ImportFailed naming the file — never another
exception — and what it stores is within the accepted bounds."""

import random
import shutil
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usage import bounds
from usage.imports import ImportFailed, run_import
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "samples"
FILES = [
    ("anthropic_console_usage.csv", "auto"), ("anthropic_console_cost.csv", "auto"),
    ("anthropic_usage_report.json", "auto"), ("anthropic_cost_report.json", "auto"),
    ("openai_dashboard_completions_usage_2026-03-09_2026-03-11.csv", "auto"),
    ("openai_dashboard_cost_2026-03-09_2026-03-11.csv", "auto"),
    ("openai_usage_completions.json", "auto"), ("openai_costs.json", "auto"),
    ("claude_code_session.jsonl", "auto"), ("claude_code_session_resumed.jsonl", "auto"),
]
NASTY = [
    "", "-1", "0", "1.5", "1e300", "NaN", "inf", "9223372036854775807", "99999999999999999999",
    "9999-12-31", "0001-01-01", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "99999999999999",
    "\x00", "a\x00b", "|", "%7C", '"', "'", ",", "\n", "\r\n", "\u2028", "é", "\ufeff", "[]", "{}", "null",
    "true", '{"a": ' * 50, "x" * 300,
]


class Rollback(Exception):
    pass


@st.composite
def mutations(draw):
    name, fmt = draw(st.sampled_from(FILES))
    text = (SAMPLES / name).read_text(encoding="utf-8")
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 4))):
        token = draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=20)))
        kind = draw(st.sampled_from(["replace-token", "insert", "truncate", "duplicate-line", "delete-line"]))
        text = _mutate(text, kind, token, rng)
    return name, fmt, text


def _mutate(text: str, kind: str, token: str, rng: random.Random) -> str:
    if not text:
        return token
    at = rng.randrange(len(text))
    lines = text.splitlines(keepends=True)
    if kind == "replace-token":  # a value between separators
        seps = [i for i, c in enumerate(text) if c in ',:\n"']
        if len(seps) >= 2:
            i = rng.randrange(len(seps) - 1)
            return text[:seps[i] + 1] + token + text[seps[i + 1]:]
    if kind == "insert":
        return text[:at] + token + text[at:]
    if kind == "truncate":
        return text[:at]
    if kind == "duplicate-line" and lines:
        i = rng.randrange(len(lines))
        return "".join(lines[:i + 1] + lines[i:])
    if kind == "delete-line" and len(lines) > 1:
        i = rng.randrange(len(lines))
        return "".join(lines[:i] + lines[i + 1:])
    return text


@given(mutations())
@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_mutated_exports_import_or_fail_cleanly(project, tmp_path, case):
    name, fmt, text = case
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        with transaction.atomic():
            try:
                run_import(project=project, paths=[path], format=fmt)
            except ImportFailed as exc:
                assert str(exc).startswith(name), str(exc)
                raise Rollback from exc
            for record in UsageRecord.objects.filter(project=project):
                assert record.timestamp >= bounds.EARLIEST
                assert 0 <= record.input_tokens <= bounds.MAX_COUNT
                assert record.cost_nano is None or abs(record.cost_nano) <= bounds.MAX_COST_NANO
            raise Rollback
    except Rollback:
        pass
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir(exist_ok=True)
