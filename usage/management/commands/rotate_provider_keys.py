from django.core.management.base import BaseCommand, CommandError

from costwatch.crypto import SecretUnreadable
from usage.sync import rotate_keys


class Command(BaseCommand):
    help = "Re-encrypt every stored provider admin key with the first of PROVIDER_KEY_SECRETS."

    def handle(self, *args, **options):
        try:
            count = rotate_keys()
        except SecretUnreadable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"re-encrypted {count} admin key{'s' if count != 1 else ''}")
