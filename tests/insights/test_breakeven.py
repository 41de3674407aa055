"""Subscription break-even, crossover computed by hand."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Plan
from usage.ingest import record_usage
from usage.insights.breakeven import breakeven, last_weeks
from usage.records import Record

NANO = 1_000_000_000
TODAY = date(2026, 3, 30)  # a Monday: the last four complete weeks start Mar 2, 9, 16, 23


@pytest.fixture
def coding(project, django_capture_on_commit_callbacks):
    records, app = [], []
    for week in range(4):
        monday = datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(weeks=week)
        # 10 Claude Code messages a week on haiku, 1M input each: $1 a message, $10 a week
        records += [Record(external_id=f"cc{week}-{i}", timestamp=monday + timedelta(days=i % 5), model="claude-haiku-4-5",
                           feature="acme-web", input_tokens=1_000_000) for i in range(10)]
        # not covered: another model, another feature
        app.append(Record(external_id=f"gpt{week}", timestamp=monday, model="gpt-4o-mini", feature="acme-web",
                              input_tokens=1_000_000))
        app.append(Record(external_id=f"bot{week}", timestamp=monday, model="claude-haiku-4-5", feature="bot",
                              input_tokens=1_000_000))
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="claude_code", records=records)
        record_usage(project=project, source="api", records=app)
    return project


def plan(project, **kw):
    defaults = {"name": "p", "price_usd": Decimal(26), "per": "month", "allowance": 2, "allowance_unit": "messages",
                "allowance_window": "5h", "windows_per_week": 10, "covers_models": "claude-", "features": "acme-web"}
    return Plan.objects.create(project=project, **{**defaults, **kw})


def test_last_weeks():
    assert last_weeks(TODAY) == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 23)]
    assert last_weeks(date(2026, 4, 1))[-1] == date(2026, 3, 23)


def test_crossover_and_verdicts_by_hand(coding):
    roomy = plan(coding, name="roomy")  # $26 × 12 / 52 = $6 a week; 2 × 10 = 20 messages a week
    plan(coding, name="tight", allowance=1, windows_per_week=5)  # 5 messages a week
    verdicts, weeks, per_plan = breakeven(coding, today=TODAY)
    by_name = {v.plan.name: v for v in verdicts}
    assert [w.messages for w in per_plan[roomy.pk]] == [10, 10, 10, 10]

    v = by_name["roomy"]
    assert (v.volume, v.api_week_nano, v.price_week_nano, v.unit_cost_nano) == (10, 10 * NANO, 6 * NANO, NANO)
    assert v.crossover == 6  # $6 / $1 a message
    assert v.allowance_week == 20 and v.crossover_within_allowance
    assert (v.cheaper, v.saving_week_nano) == ("plan", 4 * NANO)

    t = by_name["tight"]
    # 10 messages: $6 + 5 over the allowance × $1 = $11 against $10 on the API
    assert t.crossover == 6 and not t.crossover_within_allowance
    assert (t.plan_week_nano, t.cheaper, t.saving_week_nano) == (11 * NANO, "api", -NANO)


def test_tokens_and_weekly_price(coding):
    p = plan(coding, name="tok", price_usd=Decimal(5), per="week", seats=2, allowance=None, allowance_unit="tokens")
    v = breakeven(coding, today=TODAY)[0][0]
    assert v.plan == p
    # $10 a week for 10M tokens: $1 per million; the plan's $10 a week (2 seats × $5)
    assert v.price_week_nano == 10 * NANO and v.crossover == 10_000_000 and v.allowance_week is None
    assert v.cheaper == "api"  # equal cost: the plan is not cheaper


def test_plans_page_adds_examples_edits_and_shows_the_verdict(logged_in, coding, monkeypatch):
    from costwatch import clock

    monkeypatch.setattr(clock, "utc_today", lambda now=None, real=clock.utc_today: TODAY if now is None else real(now))
    url = f"/p/{coding.slug}/insights/subscriptions/"
    assert 'data-testid="add-examples"' in logged_in.get(url).content.decode()
    logged_in.post(url, {"action": "examples"})
    plans = list(coding.plans.order_by("price_usd"))
    assert [p.name for p in plans] == ["Claude Pro (example)", "Claude Max 5x (example)", "Claude Max 20x (example)"]
    assert plans[0].features == "acme-web"  # the features Claude Code logs came in under
    pro = plans[0]
    form = {f"p{pro.pk}-{k}": v for k, v in {
        "name": "Pro", "price_usd": "26", "per": "month", "seats": "1", "allowance": "2", "allowance_unit": "messages",
        "allowance_window": "5h", "windows_per_week": "10", "covers_models": "claude-", "features": "acme-web"}.items()}
    bad = logged_in.post(url, {**form, f"p{pro.pk}-price_usd": "-1", "action": "save", "pk": pro.pk})
    assert "Expected a price of $0 or more." in bad.content.decode()
    logged_in.post(url, {**form, "action": "save", "pk": pro.pk})
    pro.refresh_from_db()
    assert (pro.name, pro.price_usd, pro.allowance) == ("Pro", Decimal(26), 2)
    html = logged_in.get(url).content.decode()
    assert "Plan saves $4.00/wk" in html and "Crossover 6 messages/wk (allowance 20)" in html
    assert 'data-testid="breakeven-chart"' in html
    logged_in.post(url, {"action": "delete", "pk": pro.pk})
    assert not coding.plans.filter(pk=pro.pk).exists()
