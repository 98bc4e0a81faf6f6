from django.core.management.base import BaseCommand, CommandError

from caching.api import invalidate
from caching.signals import every_namespace


class Command(BaseCommand):
    help = (
        "Bump cache namespaces so that every process reads them from the database again "
        "within the version check interval. Run with --all after restoring a backup or "
        "editing rows in SQL."
    )

    def add_arguments(self, parser):
        parser.add_argument("namespaces", nargs="*", help="For example: hotel:42 catalogue")
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everything",
            help="Every namespace of every hotel, found in the database (no key scans).",
        )

    def handle(self, *args, namespaces: list[str], everything: bool = False, **options):
        if everything == bool(namespaces):
            raise CommandError("Name the namespaces to invalidate, or pass --all (not both).")
        names = every_namespace() if everything else namespaces
        invalidate(*names)
        self.stdout.write(self.style.SUCCESS(f"Invalidated {len(names)} namespaces."))
