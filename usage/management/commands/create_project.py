from django.core.management.base import BaseCommand, CommandError

from costwatch.tenant.models import Project
from costwatch.tenant.projects import create_project


class Command(BaseCommand):
    help = "Create a project and its first ingest key. The key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--member", action="append", default=[], help="username to add (repeatable)")

    def handle(self, *args, slug, name, timezone, member, **options):
        from django.contrib.auth import get_user_model

        if Project.objects.filter(slug=slug).exists():
            raise CommandError(f"project {slug!r} already exists")
        users = list(get_user_model().objects.filter(username__in=member))
        missing = set(member) - {u.username for u in users}
        if missing:
            raise CommandError(f"no such user: {', '.join(sorted(missing))}")
        project, raw_key = create_project(slug=slug, name=name, timezone_name=timezone)
        project.members.add(*users)
        self.stdout.write(f"Created project {project.slug!r}. Ingest key (shown once):")
        self.stdout.write(raw_key)
