from django.core.management.base import BaseCommand

from notifications.services import notifications_sweep, reminders_backfill


class Command(BaseCommand):
    help = (
        "Queue every due notification (and schedule missing pre-arrival reminders). "
        "Beat runs this every minute; run it by hand, or from cron where there is no beat."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-reminders",
            action="store_true",
            help="Only send what is due; do not look for missing reminders.",
        )

    def handle(self, *args, skip_reminders: bool = False, **options):
        scheduled = 0 if skip_reminders else reminders_backfill()
        queued = notifications_sweep()
        self.stdout.write(
            f"Queued {len(queued)} due notification(s); scheduled {scheduled} reminder(s)."
        )
