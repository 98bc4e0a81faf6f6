from datetime import date, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hotel.models import Hotel
from inventory.exceptions import InventoryError
from inventory.services import inventory_generate


class Command(BaseCommand):
    help = (
        "Create the missing nights of inventory (existing nights are left alone), "
        "by default for every active hotel over the rolling window from today."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hotel", help="Only this hotel (its slug).")
        parser.add_argument("--start", help="First night, YYYY-MM-DD (default: today).")
        parser.add_argument(
            "--days",
            type=int,
            default=settings.INVENTORY_WINDOW_DAYS,
            help="How many nights from the start (default: INVENTORY_WINDOW_DAYS).",
        )

    def handle(self, *args, hotel=None, start=None, days=None, **options):
        try:
            first = date.fromisoformat(start) if start else timezone.now().date()
        except ValueError as exc:
            raise CommandError(f"--start must be a date as YYYY-MM-DD, not {start!r}.") from exc
        if days is None or days < 1 or days > 3 * 366:
            raise CommandError("--days must be between 1 and 1098.")
        target = None
        if hotel:
            target = Hotel.objects.filter(slug=hotel).first()
            if target is None:
                raise CommandError(f"No hotel with the slug {hotel!r}.")
        try:
            created = inventory_generate(
                hotel=target, start=first, end=first + timedelta(days=days)
            )
        except InventoryError as exc:
            raise CommandError(str(exc)) from exc
        scope = target.name if target else "every active hotel"
        last = first + timedelta(days=days - 1)
        self.stdout.write(
            self.style.SUCCESS(f"{created} nights created for {scope}, {first} to {last}.")
        )
