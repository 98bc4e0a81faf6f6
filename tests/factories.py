"""Factories shared by the whole suite."""

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from bookings.models import Booking
from hotel.models import Amenity, Hotel, Room, RoomType
from inventory.models import (
    Adjustment,
    OccupancySupplement,
    RoomInventory,
    Season,
    SpecialDay,
    WeekdayRule,
)


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


class SeasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Season

    hotel = factory.SubFactory(HotelFactory)
    room_type = None
    name = factory.Sequence(lambda n: f"Season {n}")
    adjustment = Adjustment.PERCENT
    value = Decimal("20")
    start_date = factory.LazyFunction(lambda: date.today())
    end_date = factory.LazyAttribute(lambda s: s.start_date + timedelta(days=30))


class WeekdayRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeekdayRule

    hotel = factory.SubFactory(HotelFactory)
    room_type = None
    name = "Weekend uplift"
    adjustment = Adjustment.PERCENT
    value = Decimal("10")
    friday = True
    saturday = True


class SpecialDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpecialDay

    hotel = factory.SubFactory(HotelFactory)
    room_type = None
    name = factory.Sequence(lambda n: f"Festival {n}")
    adjustment = Adjustment.SET
    value = Decimal("250.00")
    start_date = factory.LazyFunction(lambda: date.today() + timedelta(days=10))
    end_date = factory.SelfAttribute("start_date")


class OccupancySupplementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OccupancySupplement

    room_type = factory.SubFactory(RoomTypeFactory)
    extra_adult = Decimal("30.00")
    extra_child = Decimal("15.00")
