from django.utils import timezone
from django.utils.timesince import timesince

from backups.models import BackupRecord
from backups.selectors import backup_health, backups_list

from ._base import BackupCommand


class Command(BackupCommand):
    help = "List backups, newest first, with status, size and age."

    def add_arguments(self, parser):
        parser.add_argument("--status", choices=BackupRecord.Status.values)
        parser.add_argument("--limit", type=int, default=20, help="At most this many (20).")

    def handle(self, *args, status, limit, **options):
        records = backups_list(status=status)
        total = records.count()
        now = timezone.now()
        self.stdout.write(
            f"{'id':>5}  {'status':<9} {'created (UTC)':<17} {'age':<20} {'size':>12}  "
            f"{'reason':<11} file"
        )
        for r in records[: max(limit, 0)]:
            size = "-" if r.size_bytes is None else f"{r.size_bytes}"
            self.stdout.write(
                f"{r.pk:>5}  {r.status:<9} {r.created_at:%Y-%m-%d %H:%M}  "
                f"{timesince(r.created_at, now):<20} {size:>12}  {r.reason:<11} {r.path}"
            )
            if r.error:
                self.stdout.write(f"{'':>7}error: {r.error}")
        if total > limit:
            self.stdout.write(f"... and {total - limit} older (use --limit).")
        health = backup_health(now=now)
        self.stdout.write(f"Health: {health['status']} {health['reason']}".rstrip())
