from django.core.management.base import BaseCommand

from usage.demo import DEMO_PASSWORD, DEMO_USER, seed_demo


class Command(BaseCommand):
    help = "(Re)create the demo project with ~90 days of realistic usage and a demo login."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)

    def handle(self, *args, days, **options):
        project, key, count = seed_demo(days=days)
        self.stdout.write(f"Demo project {project.slug!r}: {count} usage records over {days} days.")
        self.stdout.write(f"Log in at /login/ as {DEMO_USER} / {DEMO_PASSWORD}")
        self.stdout.write(f"Demo ingest key (shown once): {key}")
