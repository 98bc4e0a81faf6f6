from pathlib import Path

from backups.models import BackupRecord
from backups.selectors import backup_latest
from backups.services import backup_import, backup_verify

from ._base import BackupCommand, CommandError


class Command(BackupCommand):
    help = (
        "Verify a backup: recompute its checksum, restore it into a scratch database that is "
        "created and dropped, and compare every table's row count and the migration state "
        "with its manifest. Exits non-zero unless the backup is verified."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("backup_id", nargs="?", type=int, help="The backup's id.")
        target.add_argument("--latest", action="store_true", help="The newest backup.")
        target.add_argument(
            "--file",
            type=Path,
            help="A backup file (with its manifest beside it) not yet listed, e.g. a copy "
            "brought from another machine; it is registered, then verified.",
        )

    def handle(self, *args, backup_id: int | None, latest: bool, file: Path | None, **options):
        if file is not None:
            record = backup_import(path=file)
        elif latest:
            record = backup_latest()
            if record is None:
                raise CommandError("There is no backup to verify yet: run `manage.py backup`.")
        else:
            record = self.get_record(backup_id)
        record = backup_verify(backup=record, progress=self.progress)
        if record.status != BackupRecord.Status.VERIFIED:
            raise CommandError(f"Backup #{record.pk} FAILED verification: {record.error}")
        tables = len(record.table_counts)
        rows = sum(record.table_counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {self.describe(record)} verified: {tables} tables and {rows} rows "
                "restored and matching the manifest."
            )
        )
