"""manage.py sync_prices --source litellm|genai-prices [--file PATH | --url URL] [--apply]"""

from django.core.management.base import BaseCommand, CommandError

from billing.pricing import sources, sync
from costwatch.clock import utc_today
from usage.pricing_jobs import reprice


def print_changes(write, changes: list[sync.Change]) -> None:
    for change in changes:
        if change.field == "model":
            write(f"  + {change.model} ({change.provider}): new model")
        else:
            write(f"  ~ {change.model} {change.field}: {change.old if change.old is not None else '-'}"
                  f" -> {change.new if change.new is not None else '-'}")


class Command(BaseCommand):
    help = "Compare the price catalog with a maintained source; --apply adds new effective-dated rows."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, choices=sources.SOURCES)
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--file", help="a local copy of the source's data")
        where.add_argument("--url", help="fetch the source's data from this URL")
        parser.add_argument("--apply", action="store_true", help="add the new rows (default: print the diff)")

    def handle(self, *args, source, file, url, apply, **options):
        try:
            rows = sources.load(source, file=file, url=url)
        except (sources.SourceError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        today = utc_today()
        changes = sync.apply(rows, today) if apply else sync.diff(rows, today)
        models = len({c.model for c in changes})
        self.stdout.write(f"{rows.source} ({rows.version}): {len(rows.rows)} rows read; "
                          f"{models} models {'changed' if apply else 'would change'}, {len(changes)} fields")
        print_changes(self.stdout.write, changes)
        if apply and changes:
            self.stdout.write(f"re-priced {reprice(only_unpriced=True)} unpriced records")
        elif not changes:
            self.stdout.write("nothing to do: the catalog matches the source (curated rows win)")
