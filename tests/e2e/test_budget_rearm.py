"""Budgets in a real browser: checked on save, re-armed by an amount change (and fired once
more), an honest headline, and deleting keeps the alert history."""

from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import AlertEvent, Budget
from tests.billing.factories import add_spend


def chip(page, value: int):
    return page.locator(f'[data-testid=budget] button[value="{value}"]')


def edit_amount(page, budget: Budget, amount: str) -> None:
    page.get_by_test_id("budget").get_by_role("link", name="Edit").click()
    form = page.locator(f"form#budget-{budget.pk}")
    form.wait_for()
    field = form.get_by_label("Amount (USD)")
    field.fill("")
    field.type(amount)
    field.press("Enter")  # the keyboard submits the form
    form.wait_for(state="detached")


def test_save_checks_rearms_and_fires_once_more(logged_in_page, project, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    add_spend(project, timezone.now().date(), "30")
    page = logged_in_page
    page.goto(f"/p/{project.slug}/budgets/")

    page.get_by_test_id("new-budget").click()
    form = page.locator("#budget-new")
    form.get_by_label("Name").wait_for()
    form.get_by_label("Name").fill("Team budget")
    form.get_by_label("Amount (USD)").fill("40")
    form.get_by_label("Recipients").fill("ops@example.com")
    form.get_by_role("button", name="Create budget").click()
    page.get_by_test_id("budget").wait_for()
    budget = Budget.objects.get()

    # checked on save: 50 % and 75 % fired at once (30 of 40), one e-mail naming the highest
    expect(chip(page, 75)).to_contain_text("✓")
    expect(chip(page, 50)).to_contain_text("✓")
    expect(page.get_by_test_id("alert-row")).to_have_count(2)
    assert "No alert has fired yet" not in page.inner_text("main")
    assert len(mail.outbox) == 1
    assert "has reached 75 % (75.0 % used)" in mail.outbox[0].subject

    # raise to 50: 60 % — 75 % is no longer crossed and re-arms; 50 % stays fired
    edit_amount(page, budget, "50")
    expect(page.get_by_test_id("percent")).to_have_text("60.0 %")
    expect(chip(page, 75)).not_to_contain_text("✓")
    expect(chip(page, 50)).to_contain_text("✓")
    assert len(mail.outbox) == 1

    # back to 40: 75 % is crossed again and fires once more (50 % does not)
    edit_amount(page, budget, "40")
    expect(chip(page, 75)).to_contain_text("✓")
    assert len(mail.outbox) == 2 and "has reached 75 % (75.0 % used)" in mail.outbox[1].subject
    assert sorted(AlertEvent.objects.filter(budget=budget).values_list("threshold", "revision")) == [
        (50, 0), (75, 0), (75, 2)]

    # saving again without an amount change sends nothing
    edit_amount(page, budget, "40")
    assert len(mail.outbox) == 2
    # still exactly once per (budget, period, threshold, amount revision), in the database
    first = AlertEvent.objects.get(budget=budget, threshold=75, revision=2)
    try:
        with transaction.atomic():
            AlertEvent.objects.create(budget=budget, period_start=first.period_start, threshold=75, revision=2)
        raise AssertionError("a second 75 % event in the same revision was accepted")
    except IntegrityError:
        pass

    # delete (confirmed): the budget leaves the page, its alert history stays
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("budget").get_by_role("button", name="Delete").click()
    page.get_by_text("No budgets yet").wait_for()
    rows = page.get_by_test_id("alert-row")
    expect(rows).to_have_count(3)
    assert "Team budget (deleted)" in rows.first.inner_text()
    assert AlertEvent.objects.filter(budget=budget).count() == 3
    budget.refresh_from_db()
    assert budget.archived_at is not None and not budget.is_active


def test_headline_names_the_highest_crossed_and_the_real_percent(logged_in_page, project, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    add_spend(project, timezone.now().date(), "30.09")
    page = logged_in_page
    page.goto(f"/p/{project.slug}/budgets/?new=1")
    form = page.locator("#budget-new")
    form.get_by_label("Name").fill("Tiny")
    form.get_by_label("Amount (USD)").fill("3")
    form.get_by_label("Thresholds (%)").fill("50, 75, 90")
    form.get_by_label("Recipients").fill("ops@example.com")
    form.get_by_role("button", name="Create budget").click()
    page.get_by_test_id("budget").wait_for()
    expect(page.get_by_test_id("alert-row")).to_have_count(3)
    assert len(mail.outbox) == 1
    assert "has reached 90 % (1,003.0 % used)" in mail.outbox[0].subject
