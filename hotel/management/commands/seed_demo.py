from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from hotel import demo
from hotel.models import Amenity, Hotel, Room, RoomType


class Command(BaseCommand):
    help = (
        "Write the demo catalogue, users, a year of inventory and sample bookings. "
        "Idempotent: running it again leaves the same data."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            hotels = seed_catalogue()
            seed_users()
        self.stdout.write(
            f"Catalogue: {len(hotels)} hotels, {RoomType.objects.count()} room types."
        )
        self.seed_inventory(hotels)
        self.seed_bookings()
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(
            f"  Staff login (admin at /admin/): {demo.STAFF_USERNAME} / {demo.STAFF_PASSWORD}\n"
            f"  Guest login:                   {demo.GUEST_USERNAME} / {demo.GUEST_PASSWORD}"
        )

    def seed_inventory(self, hotels: list[Hotel]) -> None:
        from inventory.services import inventory_generate

        start = timezone.now().date() - timedelta(days=60)
        end = timezone.now().date() + timedelta(days=365)
        created = sum(inventory_generate(hotel=h, start=start, end=end) for h in hotels)
        self.stdout.write(f"Inventory: {created} nights created.")

    def seed_bookings(self) -> None:
        from bookings.demo import seed_demo_bookings

        seed_demo_bookings(stdout=self.stdout)


def seed_catalogue() -> list[Hotel]:
    amenities = {}
    for name, slug in demo.AMENITIES:
        amenities[slug], _ = Amenity.objects.update_or_create(slug=slug, defaults={"name": name})
    hotels = []
    for spec in demo.HOTELS:
        spec = dict(spec)
        room_types = spec.pop("room_types")
        hotel_amenities = spec.pop("amenities")
        for key in ("cancellation_fee_percent", "deposit_percent"):
            if key in spec:
                spec[key] = Decimal(spec[key])
        hotel, _ = Hotel.objects.update_or_create(slug=spec.pop("slug"), defaults=spec)
        hotel.amenities.set([amenities[a] for a in hotel_amenities])
        floor_rooms: dict[int, int] = {}
        for order, rt in enumerate(room_types):
            name, beds, adults, children, occupancy, size, base, count, rt_amenities = rt
            room_type, _ = RoomType.objects.update_or_create(
                hotel=hotel,
                slug=_slugify(name),
                defaults={
                    "name": name,
                    "beds": beds,
                    "max_adults": adults,
                    "max_children": children,
                    "max_occupancy": occupancy,
                    "base_occupancy": min(2, occupancy),
                    "size_m2": size,
                    "base_price": Decimal(base),
                    "sort_order": order,
                    "description": f"{name} with {beds}, {size} m².",
                },
            )
            room_type.amenities.set([amenities[a] for a in rt_amenities])
            floor = order + 1
            for _i in range(count):
                floor_rooms[floor] = floor_rooms.get(floor, 0) + 1
                Room.objects.update_or_create(
                    hotel=hotel,
                    number=f"{floor}{floor_rooms[floor]:02d}",
                    defaults={"room_type": room_type, "floor": floor, "is_active": True},
                )
        hotels.append(hotel)
    return hotels


def seed_users():
    user_model = get_user_model()
    staff, _ = user_model.objects.update_or_create(
        username=demo.STAFF_USERNAME,
        defaults={"email": "staff@example.com", "is_staff": True, "is_superuser": True},
    )
    staff.set_password(demo.STAFF_PASSWORD)
    staff.save(update_fields=["password"])
    guest, _ = user_model.objects.update_or_create(
        username=demo.GUEST_USERNAME,
        defaults={"email": demo.GUEST_EMAIL, "first_name": "Grace", "last_name": "Guest"},
    )
    guest.set_password(demo.GUEST_PASSWORD)
    guest.save(update_fields=["password"])
    return staff, guest


def _slugify(name: str) -> str:
    from django.utils.text import slugify

    return slugify(name)
