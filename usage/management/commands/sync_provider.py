from datetime import date

from django.core.management.base import BaseCommand, CommandError

from usage.models import ProviderConnection
from usage.sync import SyncFailed, sync


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"expected a date YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = ("Pull billed usage and costs from a provider's admin API into the billed ledger "
            "(default: from 3 days before the last fully synced day to today).")

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--provider", required=True, choices=["anthropic", "openai"])
        parser.add_argument("--since", help="first UTC day, YYYY-MM-DD")
        parser.add_argument("--until", help="last UTC day, YYYY-MM-DD (default today)")

    def handle(self, *args, project, provider, since, until, **options):
        connection = ProviderConnection.objects.select_related("project").filter(
            project__slug=project, provider=provider).first()
        if connection is None:
            raise CommandError(f"no {provider} key for {project!r}: run set_provider_key first")
        try:
            result = sync(connection=connection, since=_day(since), until=_day(until))
        except SyncFailed as exc:
            raise CommandError(str(exc)) from None
        for job in result.jobs:
            job.refresh_from_db()
            self.stdout.write(f"{job.file_name}: {job.records_added} added, {job.records_replaced} replaced, "
                              f"{job.duplicates} unchanged{'; ' + job.notes if job.notes else ''}")
        connection.refresh_from_db()
        self.stdout.write(f"synced {result.since}…{result.until}; fully synced through {connection.synced_through}")
