from django.core.management.base import BaseCommand

from costwatch.tenant.models import Project
from usage.rollups import rollup_all, rollup_dirty


class Command(BaseCommand):
    help = "Recompute stale daily rollups (or all of them with --all)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="recompute every day, not only dirty ones")
        parser.add_argument("--project", help="project slug (with --all)")

    def handle(self, *args, **options):
        if options["all"]:
            project_id = Project.objects.get(slug=options["project"]).pk if options["project"] else None
            done = rollup_all(project_id=project_id)
        else:
            done = rollup_dirty()
        self.stdout.write(f"{done} day(s) rolled up")
