"""The anomaly rule on planted spikes: median + MAD of the previous 28 days, minimum $."""

from datetime import UTC, date, datetime, timedelta

import pytest

from usage.ingest import record_usage
from usage.insights.anomalies import anomalies, detect
from usage.records import Record

NANO = 1_000_000_000
D0 = date(2026, 3, 1)


def days(n):
    return [D0 + timedelta(days=i) for i in range(n)]


def test_a_planted_spike_over_a_noisy_baseline_is_found_and_nothing_else():
    # baseline alternates $10 / $12: median 11, MAD 1 -> z > 3.5 needs more than 11 + 5.19
    def series(spike_usd):
        out = {d: (10 if i % 2 else 12) * NANO for i, d in enumerate(days(40))}
        out[D0 + timedelta(days=35)] = spike_usd * NANO
        return out

    window = {"start": D0 + timedelta(days=28), "end": D0 + timedelta(days=39), "first_day": D0}
    found = detect(series(17), **window)  # 11 + 6: z = 0.6745 × 6 = 4.05
    assert [(d, spend) for d, spend, _, _ in found] == [(D0 + timedelta(days=35), 17 * NANO)]
    assert found[0][2:] == (11 * NANO, 1 * NANO)
    assert detect(series(16), **window) == []  # 11 + 5: z = 3.37


def test_the_minimum_amount_ignores_spikes_on_tiny_spend():
    series = dict.fromkeys(days(30), NANO // 100)  # 1 cent a day, MAD 0
    series[D0 + timedelta(days=29)] = 4 * NANO  # +$3.99: 400 × normal, under the $5 minimum
    assert detect(series, start=D0 + timedelta(days=29), end=D0 + timedelta(days=29), first_day=D0) == []
    series[D0 + timedelta(days=29)] = 6 * NANO
    assert len(detect(series, start=D0 + timedelta(days=29), end=D0 + timedelta(days=29), first_day=D0)) == 1


def test_an_earlier_spike_does_not_raise_the_baseline_and_a_short_history_is_not_judged():
    series = dict.fromkeys(days(40), 10 * NANO)
    series[D0 + timedelta(days=20)] = 100 * NANO
    series[D0 + timedelta(days=30)] = 100 * NANO
    found = detect(series, start=D0, end=D0 + timedelta(days=39), first_day=D0)
    assert [d for d, *_ in found] == [D0 + timedelta(days=20), D0 + timedelta(days=30)]
    # days 0–13 have fewer than 14 days of history
    series[D0 + timedelta(days=3)] = 100 * NANO
    assert D0 + timedelta(days=3) not in [d for d, *_ in detect(series, start=D0, end=D0 + timedelta(days=9), first_day=D0)]


@pytest.fixture
def spiky(project, django_capture_on_commit_callbacks):
    records = []
    for i, day in enumerate(days(35)):
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=12)
        # chat on haiku: 10M in = $10/day (day 32: $30); search on sonnet: 1M in × $3 = $3/day
        records.append(Record(external_id=f"c{i}", timestamp=at, model="claude-haiku-4-5", feature="chat",
                              input_tokens=10_000_000 if i != 32 else 30_000_000))
        records += [Record(external_id=f"s{i}-{k}", timestamp=at, model="claude-sonnet-4-5", feature="search",
                           input_tokens=100_000) for k in range(10)]
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=records)
    return project


def test_project_model_and_feature_scopes(spiky):
    project = spiky
    found, ledger = anomalies(project, start=D0 + timedelta(days=28), end=D0 + timedelta(days=34))
    assert ledger == "metered"
    spike = D0 + timedelta(days=32)
    assert [(a.day, a.scope, a.value, a.spend_nano, a.baseline_nano) for a in found] == [
        (spike, "project", "", 33 * NANO, 13 * NANO),
        (spike, "model", "claude-haiku-4-5", 30 * NANO, 10 * NANO),
        (spike, "feature", "chat", 30 * NANO, 10 * NANO),
    ]


def test_a_weekly_job_is_not_an_anomaly_every_week_but_a_bigger_run_is():
    series = {d: (50 * NANO if d.weekday() == 2 else 0) for d in days(60)}
    assert detect(series, start=D0 + timedelta(days=30), end=D0 + timedelta(days=59), first_day=D0) == []
    wednesday = next(d for d in days(60)[40:] if d.weekday() == 2)
    series[wednesday] = 80 * NANO
    found = detect(series, start=D0 + timedelta(days=30), end=D0 + timedelta(days=59), first_day=D0)
    assert [(d, base) for d, _, base, _ in found] == [(wednesday, 50 * NANO)]


def test_api_page_and_overview_marks(spiky, logged_in, api_client, monkeypatch):
    from costwatch import clock

    monkeypatch.setattr(clock, "utc_today", lambda now=None, real=clock.utc_today: date(2026, 4, 4) if now is None else real(now))
    body = api_client.get("/api/v1/anomalies?start=2026-03-29&end=2026-04-04").json()
    assert body["days"][0] == {
        "day": "2026-04-02", "scope": "project", "value": "", "spend_usd": "33.000000000",
        "baseline_usd": "13.000000000", "excess_usd": "20.000000000",
        "records_url": "/p/acme/records/?range=custom&start=2026-04-02&end=2026-04-02&day=2026-04-02&ledger=metered"}
    assert [(d["scope"], d["value"]) for d in body["days"]] == [
        ("project", ""), ("model", "claude-haiku-4-5"), ("feature", "chat")]
    assert api_client.get("/api/v1/anomalies?min_usd=-1").status_code == 422

    html = logged_in.get(f"/p/{spiky.slug}/insights/anomalies/?range=7d").content.decode()
    assert "3 anomalies in this period" in html
    assert "median absolute deviation" in html
    assert "?range=7d&amp;feature=chat&amp;day=2026-04-02" in html
    overview = logged_in.get(f"/p/{spiky.slug}/?range=7d").content.decode()
    assert '"name": "Anomaly"' in overview and '"x": ["2026-04-02"]' in overview
