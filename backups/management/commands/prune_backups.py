from django.conf import settings

from backups.services import backups_prune

from ._base import BackupCommand


class Command(BackupCommand):
    help = (
        "Delete old backups (file, manifest, record): keep the N latest, one a day for N days "
        "and one a week for N weeks; the newest verified backup is never deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep-last", type=int, default=settings.BACKUP_KEEP_LAST)
        parser.add_argument("--keep-daily", type=int, default=settings.BACKUP_KEEP_DAILY)
        parser.add_argument("--keep-weekly", type=int, default=settings.BACKUP_KEEP_WEEKLY)
        parser.add_argument("--dry-run", action="store_true", help="Only say what would go.")

    def handle(self, *args, keep_last, keep_daily, keep_weekly, dry_run, **options):
        result = backups_prune(
            keep_last=keep_last, keep_daily=keep_daily, keep_weekly=keep_weekly, dry_run=dry_run
        )
        verb = "Would delete" if dry_run else "Deleted"
        for record in result.deleted:
            self.stdout.write(f"{verb} {self.describe(record)}")
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {len(result.deleted)}, kept {len(result.kept)} backups.")
        )
