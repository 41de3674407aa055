"""manage.py check_prices [--source ...] [--litellm-file PATH]: curated rows vs the sources."""

from django.core.management.base import BaseCommand, CommandError

from billing.pricing import sources, sync
from costwatch.clock import utc_today


class Command(BaseCommand):
    help = "Price drift report: every field where a curated row in force disagrees with a source."

    def add_arguments(self, parser):
        parser.add_argument("--litellm-file", help="litellm's JSON (skipped without it or --litellm-url)")
        parser.add_argument("--litellm-url")
        parser.add_argument("--genai-prices-file", help="genai-prices data.json (default: the bundled data)")

    def handle(self, *args, litellm_file, litellm_url, genai_prices_file, **options):
        loaded = []
        try:
            loaded.append(sources.load("genai-prices", file=genai_prices_file))
            if litellm_file or litellm_url:
                loaded.append(sources.load("litellm", file=litellm_file, url=litellm_url))
        except (sources.SourceError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        today = utc_today()
        total = 0
        for rows in loaded:
            drift = sync.drift(rows, today)
            total += len(drift)
            self.stdout.write(f"{rows.source} ({rows.version}): {len({d.model for d in drift})} curated models "
                              f"differ, {len(drift)} fields (ours -> theirs)")
            for d in drift:
                self.stdout.write(f"  {d.model} {d.field}: {d.old if d.old is not None else '-'}"
                                  f" -> {d.new if d.new is not None else '-'}")
        if not total:
            self.stdout.write("no drift")
