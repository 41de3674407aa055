from datetime import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing.digest import send_due


class Command(BaseCommand):
    help = "Send the weekly digests that are due now (what the hourly beat does)."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="as of this ISO 8601 time (default: now)")

    def handle(self, *args, at=None, **options):
        sent = send_due(now=datetime.fromisoformat(at) if at else timezone.now())
        self.stdout.write(f"{sent} digest(s) sent")
