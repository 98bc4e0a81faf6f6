from django.core.management.base import BaseCommand, CommandError

from backups.exceptions import BackupError
from backups.models import BackupRecord


class BackupCommand(BaseCommand):
    """Progress on stderr (so stdout stays parseable), BackupError as a clean CommandError."""

    def execute(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
        try:
            return super().execute(*args, **options)
        except BackupError as exc:
            raise CommandError(exc.message) from exc

    def progress(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stderr.write(f"  {message}")

    def get_record(self, backup_id: int) -> BackupRecord:
        try:
            return BackupRecord.objects.get(pk=backup_id)
        except BackupRecord.DoesNotExist:
            raise CommandError(
                f"There is no backup #{backup_id}. `manage.py list_backups` lists them."
            ) from None

    def describe(self, record: BackupRecord) -> str:
        size = "-" if record.size_bytes is None else f"{record.size_bytes} bytes"
        return f"#{record.pk} {record.file_name} [{record.status}] {size}"
