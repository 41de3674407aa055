from datetime import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing import budgets
from billing.models import Budget
from billing.pricing.money import format_usd
from billing.tasks import check_all_budgets


class Command(BaseCommand):
    help = "Check every active budget now, fire crossed thresholds and deliver (what beat does)."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="check as of this ISO 8601 time (default: now)")

    def handle(self, *args, at=None, **options):
        fired = check_all_budgets(at)
        now = timezone.now() if not at else datetime.fromisoformat(at)
        for budget in Budget.objects.filter(is_active=True).select_related("project"):
            st = budgets.status(budget, now=now)
            self.stdout.write(
                f"{budget.project.slug} · {budget.name}: {format_usd(st.spend_nano)} of "
                f"{format_usd(st.amount_nano)} ({st.percent} %), projected "
                f"{format_usd(st.projected_nano)}, runs out {st.runout_date or '—'}"
            )
        self.stdout.write(f"{fired} alert message(s) fired")
