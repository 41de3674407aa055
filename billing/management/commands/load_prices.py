from django.core.management.base import BaseCommand

from billing.pricing.catalog import load_catalog
from usage.pricing_jobs import reprice


class Command(BaseCommand):
    help = "Load the shipped price catalog (custom prices are kept) and price unpriced records."

    def handle(self, *args, **options):
        count = load_catalog()
        priced = reprice(only_unpriced=True)
        self.stdout.write(f"{count} catalog prices loaded; {priced} unpriced records priced")
