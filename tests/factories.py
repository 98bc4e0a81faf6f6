"""Factories shared by the whole suite."""

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from bookings.models import Booking
from hotel.models import Amenity, Hotel, Room, RoomType
from inventory.models import RoomInventory


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"guest{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Ana"
    last_name = factory.Sequence(lambda n: f"Guest{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True


class AmenityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Amenity
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Amenity {n}")
    slug = factory.Sequence(lambda n: f"amenity-{n}")


class HotelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hotel

    name = factory.Sequence(lambda n: f"Hotel {n}")
    slug = factory.Sequence(lambda n: f"hotel-{n}")
    city = "Lisbon"
    country = "PT"
    address = factory.Sequence(lambda n: f"Rua Augusta {n}, Lisbon")
    stars = 4
    timezone = "Europe/Lisbon"
    currency = "EUR"


class RoomTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoomType

    hotel = factory.SubFactory(HotelFactory)
    name = factory.Sequence(lambda n: f"Double {n}")
    slug = factory.Sequence(lambda n: f"double-{n}")
    max_adults = 2
    max_children = 1
    max_occupancy = 3
    base_occupancy = 2
    beds = "1 queen bed"
    size_m2 = 22
    base_price = Decimal("100.00")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    room_type = factory.SubFactory(RoomTypeFactory)
    hotel = factory.SelfAttribute("room_type.hotel")
    number = factory.Sequence(lambda n: f"{100 + n}")
    floor = 1


class RoomInventoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoomInventory

    room_type = factory.SubFactory(RoomTypeFactory)
    date = factory.LazyFunction(lambda: date.today() + timedelta(days=7))
    total = 5
    sold = 0
    price = Decimal("100.00")


class BookingFactory(factory.django.DjangoModelFactory):
    """A booking row as it would stand in the database; it does not take inventory."""

    class Meta:
        model = Booking

    room_type = factory.SubFactory(RoomTypeFactory)
    hotel = factory.SelfAttribute("room_type.hotel")
    guest = factory.SubFactory(UserFactory)
    guest_name = "Ana Guest"
    guest_email = factory.LazyAttribute(lambda b: b.guest.email if b.guest else "ana@example.com")
    adults = 2
    check_in = factory.LazyFunction(lambda: date.today() + timedelta(days=14))
    check_out = factory.LazyAttribute(lambda b: b.check_in + timedelta(days=3))
    status = Booking.Status.CONFIRMED
    currency = "EUR"
    total_price = Decimal("300.00")
    hold_expires_at = factory.LazyAttribute(
        lambda b: (
            timezone.now() + timedelta(minutes=10) if b.status == Booking.Status.HOLD else None
        )
    )
