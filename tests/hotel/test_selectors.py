from decimal import Decimal

import pytest

from hotel.models import Hotel, RoomType
from hotel.selectors import hotel_for_page, room_type_for_sale
from tests.factories import AmenityFactory, HotelFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db


def test_hotel_page_lists_active_room_types_in_order_with_their_amenities_by_name():
    hotel = HotelFactory()
    wifi, bath, view = (AmenityFactory(name=n) for n in ("Wi-Fi", "Bathtub", "Sea view"))
    hotel.amenities.add(wifi, view)
    suite = RoomTypeFactory(hotel=hotel, name="Suite", sort_order=2, base_price="240.50")
    suite.amenities.add(view, bath, wifi)
    RoomTypeFactory(hotel=hotel, name="Bare", sort_order=1, base_price="80")
    RoomTypeFactory(hotel=hotel, name="Attic", sort_order=2, base_price="99.90")
    RoomTypeFactory(hotel=hotel, name="Closed", sort_order=0, is_active=False)
    RoomTypeFactory(name="Another hotel's", sort_order=0)

    page = hotel_for_page(slug=hotel.slug)

    assert page.hotel == hotel
    stored = Hotel.objects.get(pk=hotel.pk)
    for field in Hotel._meta.concrete_fields:
        read, expected = getattr(page.hotel, field.attname), getattr(stored, field.attname)
        assert (read, type(read)) == (expected, type(expected)), field.name
    assert not page.hotel._state.adding
    assert page.amenities == ("Sea view", "Wi-Fi")
    assert [(rt.name, rt.amenities) for rt in page.room_types] == [
        ("Bare", ()),
        ("Attic", ()),
        ("Suite", ("Bathtub", "Sea view", "Wi-Fi")),
    ]
    assert [rt.base_price for rt in page.room_types] == [
        Decimal("80.00"),
        Decimal("99.90"),
        Decimal("240.50"),
    ]
    assert all(type(rt.base_price) is Decimal for rt in page.room_types)
    assert page.room_types[2].slug == suite.slug


def test_hotel_page_of_a_hotel_with_no_amenities_or_room_types():
    hotel = HotelFactory()
    page = hotel_for_page(slug=hotel.slug)
    assert (page.hotel, page.amenities, page.room_types) == (hotel, (), ())


@pytest.mark.parametrize("slug", ["closed", "no-such-hotel"])
def test_hotel_page_of_an_inactive_or_unknown_hotel_does_not_exist(slug):
    HotelFactory(slug="closed", is_active=False)
    with pytest.raises(Hotel.DoesNotExist):
        hotel_for_page(slug=slug)


def test_a_room_type_for_sale_is_read_with_its_hotel_as_the_orm_reads_them(
    django_assert_num_queries,
):
    room_type = RoomTypeFactory(base_price="240.50")

    with django_assert_num_queries(1):
        read = room_type_for_sale(pk=room_type.pk)
        hotel = read.hotel

    stored = RoomType.objects.select_related("hotel").get(pk=room_type.pk)
    for mine, orm in ((read, stored), (hotel, stored.hotel)):
        assert mine.get_deferred_fields() == set()
        for field in type(orm)._meta.concrete_fields:
            value, expected = getattr(mine, field.attname), getattr(orm, field.attname)
            assert (value, type(value)) == (expected, type(expected)), field.name
        assert not mine._state.adding


@pytest.mark.parametrize("closed", ["room type", "hotel", "unknown"])
def test_a_room_type_not_for_sale_does_not_exist(closed):
    room_type = RoomTypeFactory(is_active=closed != "room type")
    if closed == "hotel":
        Hotel.objects.filter(pk=room_type.hotel_id).update(is_active=False)
    with pytest.raises(RoomType.DoesNotExist):
        room_type_for_sale(pk=room_type.pk + (closed == "unknown"))


@pytest.mark.parametrize("pk", [2**63, -(2**63) - 1])
def test_a_room_type_id_past_the_columns_range_is_refused_without_a_query(
    pk, django_assert_num_queries
):
    with django_assert_num_queries(0), pytest.raises(RoomType.DoesNotExist):
        room_type_for_sale(pk=pk)
