import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import budgets
from billing.models import Budget
from billing.pricing.money import usd_to_nano
from tests.billing.factories import add_spend, at, make_budget
from tests.usage.dashboard_data import seed
from usage.reports import forecast

pytestmark = pytest.mark.django_db


def test_period_bounds_month_week_day():
    assert forecast.period_bounds("month", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert forecast.period_bounds("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))
    # weeks start on Monday (UTC): Sunday Nov 29 2026 belongs to the week of Monday Nov 23
    assert forecast.period_bounds("week", date(2026, 11, 29)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert forecast.period_bounds("week", date(2026, 11, 23)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert forecast.period_bounds("day", date(2026, 11, 5)) == (date(2026, 11, 5), date(2026, 11, 5))


@pytest.mark.parametrize(
    ("scope", "value", "expected"),
    [
        ("project", "", Decimal("15.5")),
        ("model", "gpt-5", Decimal("4")),
        ("provider", "anthropic", Decimal("11.5")),
        ("feature", "chat", Decimal("3")),
        ("end_user", "u-1", Decimal("5.5")),
        ("api_key", "key-b", Decimal("4")),
    ],
)
def test_spend_to_date_reads_the_rollups_in_the_budget_scope(project, scope, value, expected):
    day = date(2026, 11, 10)
    add_spend(project, day, "3", feature="chat", end_user="u-1", api_key="key-a")
    add_spend(project, day - timedelta(days=2), "6", feature="search", end_user="u-2", api_key="key-a")
    add_spend(project, day - timedelta(days=1), "2.5", feature="", end_user="u-1", api_key="key-a")
    add_spend(project, day, "4", model="gpt-5", provider="openai", api_key="key-b")
    # outside the period, and in the other ledger: never counted
    add_spend(project, date(2026, 10, 31), "100")
    add_spend(project, day, "100", ledger="billed")
    budget = make_budget(project, scope=scope, scope_value=value)
    assert budgets.spend_to_date(budget, today=day) == usd_to_nano(expected)


def test_billed_ledger_budget_counts_billed_spend_only(project):
    add_spend(project, date(2026, 11, 3), "7", ledger="billed")
    add_spend(project, date(2026, 11, 3), "1")
    budget = make_budget(project, ledger="billed")
    assert budgets.spend_to_date(budget, today=date(2026, 11, 3)) == usd_to_nano("7")


def test_crossed_thresholds_are_exact_at_the_boundary():
    amount = usd_to_nano("100")
    assert budgets.crossed([50, 75, 90, 100], spend_nano=usd_to_nano("74.999999999"), amount=amount) == [50]
    assert budgets.crossed([50, 75, 90, 100], spend_nano=usd_to_nano("75"), amount=amount) == [50, 75]
    assert budgets.crossed([100, 50], spend_nano=usd_to_nano("250"), amount=amount) == [50, 100]
    assert budgets.percent(usd_to_nano("33.333"), amount) == Decimal("33.3")


def test_burn_rate_is_robust_to_one_spiky_day():
    assert forecast.burn_rate([10, 10, 10, 10, 500]) == 10
    assert forecast.burn_rate([10, 12, 8, 10]) == 10
    assert forecast.burn_rate([6, 12]) == 9  # too few days to trim: the mean
    assert forecast.burn_rate([]) == 0


def test_projection_ignores_a_spike_and_gives_the_runout_day(project):
    # Nov 1–9: $10 a day, except a $200 spike on Nov 4; today (Nov 10, noon) $4 so far
    for d in range(1, 10):
        add_spend(project, date(2026, 11, d), "200" if d == 4 else "10")
    add_spend(project, date(2026, 11, 10), "4")
    budget = make_budget(project, amount_usd=Decimal("500"))
    st = budgets.status(budget, now=at(date(2026, 11, 10)))
    assert st.spend_nano == usd_to_nano("284")
    assert st.rate_nano == usd_to_nano("10")
    # 280 before today + max(4, 10) today + 20 more days × 10
    assert st.projected_nano == usd_to_nano("490")
    assert st.runout_date is None and not st.over_forecast
    budget.amount_usd = Decimal("400")
    st = budgets.status(budget, now=at(date(2026, 11, 10)))
    # 290 at the end of Nov 10, +10 a day: 400 reached on Nov 21
    assert st.runout_date == date(2026, 11, 21) and st.over_forecast
    assert st.projected_percent == Decimal("122.5")


def test_projection_runs_to_the_end_of_the_week_not_the_month(project):
    monday = date(2026, 11, 16)
    for d in range(4):
        add_spend(project, monday + timedelta(days=d), "10")
    budget = make_budget(project, period="week", amount_usd=Decimal("100"))
    st = budgets.status(budget, now=at(monday + timedelta(days=4)))  # Friday, nothing yet today
    assert (st.period_start, st.period_end) == (monday, monday + timedelta(days=6))
    assert st.projected_nano == usd_to_nano("70")  # 40 + 3 days × 10, not 40 + 14 days × 10


def test_a_new_period_is_projected_from_recent_days_not_a_partial_day(project):
    for d in range(24, 31):
        add_spend(project, date(2026, 11, d), "10")
    add_spend(project, date(2026, 12, 1), "1")  # one hour into December
    budget = make_budget(project, amount_usd=Decimal("1000"))
    st = budgets.status(budget, now=at(date(2026, 12, 1), hour=1))
    assert st.spend_nano == usd_to_nano("1")
    assert st.rate_nano == usd_to_nano("10")
    assert st.projected_nano == usd_to_nano("310")  # max(1, 10) + 30 days × 10


def test_day_budget_projects_from_the_last_seven_days(project):
    for d in range(3, 10):
        add_spend(project, date(2026, 11, d), "20")
    add_spend(project, date(2026, 11, 10), "5")
    budget = make_budget(project, period="day", amount_usd=Decimal("15"))
    st = budgets.status(budget, now=at(date(2026, 11, 10), hour=8))
    assert st.projected_nano == usd_to_nano("20") and st.runout_date == date(2026, 11, 10)
    assert st.over_forecast


def test_runout_date_in_the_past_when_already_exceeded(project):
    for d in range(1, 6):
        add_spend(project, date(2026, 11, d), "30")
    budget = make_budget(project, amount_usd=Decimal("100"))
    st = budgets.status(budget, now=at(date(2026, 11, 6)))
    assert st.runout_date == date(2026, 11, 4)  # 30, 60, 90, 120
    assert st.crossed == [50, 75, 90, 100] and not st.over_forecast


def by_testid(response, name: str) -> str:
    return re.search(rf'data-testid="{name}"[^>]*>(.*?)</', response.content.decode(), re.S).group(1)


def test_overview_budgets_page_and_api_show_one_projection_and_one_percent(
    logged_in, project, monkeypatch, django_capture_on_commit_callbacks
):
    """The figures of tests/usage/dashboard_data.py (today 2026-11-20): $3.38 spent this
    month of a $10 budget = 33.8 %. Forecast: the complete days Nov 1–19 spent $2.00 (Nov 10),
    $0.75 (Nov 18), $0.03 (Nov 19), else 0; without the highest and lowest day that is $0.78
    over 17 days = 45,882,352 nano/day. Today counts its $0.60 (more than the rate), then 10
    days at the rate: $3.38 + 10 × 0.045882352 = $3.838823520."""
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 20, 15, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    Budget.objects.create(project=project, name="Monthly", scope="project", period="month",
                          amount_usd=Decimal("10.00"), ledger="metered")

    overview = logged_in.get("/p/acme/")
    assert by_testid(overview, "projected") == "$3.84"
    assert by_testid(overview, "budget-used") == "33.8 %"
    page = logged_in.get("/p/acme/budgets/")
    assert by_testid(page, "percent") == "33.8 %"
    assert "Projected <strong>$3.84</strong> by Nov 30 (38.4 %)" in page.content.decode()
    api = logged_in.get("/api/v1/budgets?project=acme").json()["budgets"][0]
    assert (api["percent_used"], api["projected_usd"]) == ("33.8", "3.838823520")
