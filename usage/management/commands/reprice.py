from django.core.management.base import BaseCommand

from costwatch.tenant.models import Project
from usage.pricing_jobs import reprice


class Command(BaseCommand):
    help = "Price unpriced records; with --all, re-price every record at today's price table."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true")
        parser.add_argument("--project", help="project slug")

    def handle(self, *args, **options):
        project_id = Project.objects.get(slug=options["project"]).pk if options["project"] else None
        changed = reprice(project_id=project_id, only_unpriced=not options["all"])
        self.stdout.write(f"{changed} record(s) re-priced")
