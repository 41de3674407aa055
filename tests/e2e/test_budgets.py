"""The budgets page in a real browser: create inline, validation, toggle, test e-mail, edit."""

from decimal import Decimal

from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Budget
from tests.billing.factories import add_spend


def test_create_edit_toggle_and_test_a_budget(logged_in_page, project, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    add_spend(project, timezone.now().date(), "30")
    page = logged_in_page
    page.goto(f"/p/{project.slug}/")
    page.get_by_role("link", name="Budgets").click()
    page.wait_for_url(f"**/p/{project.slug}/budgets/")
    assert "No budgets yet" in page.inner_text("main")

    page.get_by_test_id("new-budget").click()
    form = page.locator("#budget-new")
    form.wait_for()
    form.get_by_label("Name").fill("Team budget")
    form.get_by_label("Amount (USD)").fill("40")
    form.get_by_label("Recipients").fill("ops@example.com, not-an-address")
    form.get_by_role("button", name="Create budget").click()
    page.get_by_text("Not a valid e-mail address: not-an-address").wait_for()
    assert not Budget.objects.exists()

    page.locator("#budget-new").get_by_label("Recipients").fill("ops@example.com")
    page.locator("#budget-new").get_by_role("button", name="Create budget").click()
    card = page.get_by_test_id("budget")
    card.wait_for()
    assert "Team budget" in card.inner_text() and "$30.00" in card.inner_text()
    assert card.get_by_test_id("percent").inner_text() == "75.0 %"
    assert page.locator("#budget-new").count() == 1 and page.locator("form#budget-new").count() == 0
    budget = Budget.objects.get()

    # toggle 90 % off: the card is swapped in place
    card.get_by_role("button", name="90 %").click()
    expect(page.locator('[data-testid=budget] button[value="90"]')).to_have_attribute("aria-pressed", "false")
    budget.refresh_from_db()
    assert budget.thresholds == [50, 75, 100]

    card.get_by_role("button", name="Send test e-mail").click()
    page.get_by_text("Test sent: e-mail to ops@example.com.").wait_for()
    # (the first message is the 75 % alert, sent when the budget was saved)
    assert len(mail.outbox) == 2 and "Test alert" in mail.outbox[1].subject

    page.get_by_test_id("budget").get_by_role("link", name="Edit").click()
    edit = page.locator(f"form#budget-{budget.pk}")
    edit.wait_for()
    edit.get_by_label("Amount (USD)").fill("60")
    edit.get_by_role("button", name="Save").click()
    page.get_by_test_id("percent").filter(has_text="50.0 %").wait_for()
    budget.refresh_from_db()
    assert budget.amount_usd == Decimal("60")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("budget").get_by_role("button", name="Delete").click()
    page.get_by_text("No budgets yet").wait_for()
    assert not Budget.objects.filter(archived_at__isnull=True).exists()
