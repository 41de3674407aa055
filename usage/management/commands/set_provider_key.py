import sys

from django.core.management.base import BaseCommand, CommandError

from costwatch.tenant.models import Project
from usage.sync import set_key


class Command(BaseCommand):
    help = ("Store a project's admin key for a provider's usage and cost APIs, read from standard "
            "input (never from the command line), encrypted at rest.")

    def add_arguments(self, parser):
        parser.add_argument("slug", metavar="SLUG")
        parser.add_argument("--provider", required=True, choices=["anthropic", "openai"])

    def handle(self, *args, slug, provider, **options):
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"no such project: {slug!r}")
        if sys.stdin.isatty():
            self.stderr.write(f"Paste the {provider} admin key and press Enter:")
        try:
            connection = set_key(project=project, provider=provider, key=sys.stdin.readline())
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"stored the {provider} admin key {connection.key_prefix}… for {slug} (encrypted)")
