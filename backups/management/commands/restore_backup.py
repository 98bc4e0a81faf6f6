from backups.selectors import migrations_unknown_to_code, unapplied_migrations
from backups.services import backup_restore

from ._base import BackupCommand, CommandError


class Command(BackupCommand):
    help = (
        "Replace the database with a backup. Takes a safety backup first, refuses a file "
        "whose checksum does not match. Stop the web and worker processes first."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup_id", type=int)
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Confirm that the current database is to be replaced.",
        )

    def handle(self, *args, backup_id: int, yes: bool, **options):
        record = self.get_record(backup_id)
        unknown = migrations_unknown_to_code(backup=record)
        if unknown:
            self.stderr.write(
                self.style.WARNING(
                    "This backup was made by a newer version of the code: it holds migrations "
                    f"this code does not have ({', '.join(unknown)}). Deploy that version to "
                    "run against it."
                )
            )
        if not yes:
            raise CommandError(
                f"This replaces the whole database with backup {self.describe(record)} "
                f"taken {record.created_at:%Y-%m-%d %H:%M %Z}. Run again with --yes to do it."
            )
        safety = backup_restore(backup=record, progress=self.progress)
        pending = unapplied_migrations()
        if pending:
            self.stdout.write(
                self.style.WARNING(
                    f"The restored database lacks {len(pending)} migrations of this code "
                    f"({', '.join(pending[:5])}{', ...' if len(pending) > 5 else ''}): "
                    "run `make migrate` before starting the site."
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored backup #{record.pk}. The database as it was before is in safety "
                f"backup #{safety.pk} ({safety.path}). Restart the web and worker processes."
            )
        )
