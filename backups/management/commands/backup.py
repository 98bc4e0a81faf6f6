from backups.models import BackupRecord
from backups.services import backup_create, backup_verify

from ._base import BackupCommand, CommandError


class Command(BackupCommand):
    help = (
        "Back up the database to BACKUP_DIR (pg_dump custom format on PostgreSQL, the online "
        "backup API on SQLite) with a JSON manifest beside it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Then verify it at once by restoring it into a scratch database.",
        )
        parser.add_argument(
            "--reason",
            choices=[BackupRecord.Reason.MANUAL, BackupRecord.Reason.PRE_MIGRATE],
            default=BackupRecord.Reason.MANUAL,
        )

    def handle(self, *args, verify: bool, reason: str, **options):
        record = backup_create(reason=reason, progress=self.progress)
        self.stdout.write(self.style.SUCCESS(f"Backup {self.describe(record)}: {record.path}"))
        if verify:
            record = backup_verify(backup=record, progress=self.progress)
            if record.status != BackupRecord.Status.VERIFIED:
                raise CommandError(f"Backup #{record.pk} failed verification: {record.error}")
            self.stdout.write(self.style.SUCCESS(f"Verified backup #{record.pk}."))
