from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.pricing.money import nano_to_usd
from costwatch.tenant.models import Project
from usage.importers import FORMAT_CHOICES
from usage.imports import ImportFailed, run_import
from usage.models import ImportJob


class Command(BaseCommand):
    help = ("Import provider exports (console CSVs, usage/cost API JSON, Claude Code logs or a "
            "zip of them, generic CSV). All-or-nothing; re-importing never double-counts.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--format", default="auto", choices=FORMAT_CHOICES)

    def handle(self, *args, paths, project, format, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no such project: {project!r}")
        job = ImportJob.objects.create(project=target, file_name=", ".join(Path(p).name for p in paths)[:255],
                                       format="" if format == "auto" else format)
        try:
            summary = run_import(project=target, paths=paths, format=format, job=job)
        except ImportFailed as exc:
            raise CommandError(f"{exc}\nNothing was imported.") from None
        for file in summary.files:
            self.stdout.write(f"{file.name}: {file.format}")
        self.stdout.write(
            f"rows read: {summary.rows_read}\n"
            f"records added: {summary.records_added}\n"
            f"records replaced (restated): {summary.records_replaced}\n"
            f"cost rows matched to token rows (kept as reported cost): {summary.records_merged}\n"
            f"duplicates skipped: {summary.duplicates}\n"
            f"rows without usage skipped: {summary.rows_skipped}\n"
            f"rows rejected: {summary.rows_rejected}\n"
            f"unpriced records: {summary.records_unpriced}\n"
            f"cost added: ${nano_to_usd(summary.cost_nano)}"
        )
        for note in summary.notes:
            self.stdout.write(note)
