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
        if not yes:
            raise CommandError(
                f"This replaces the whole database with backup {self.describe(record)} "
                f"taken {record.created_at:%Y-%m-%d %H:%M %Z}. Run again with --yes to do it."
            )
        safety = backup_restore(backup=record, progress=self.progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored backup #{record.pk}. The database as it was before is in safety "
                f"backup #{safety.pk} ({safety.path}). Restart the web and worker processes."
            )
        )
