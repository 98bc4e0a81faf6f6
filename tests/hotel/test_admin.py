import pytest
from django.urls import reverse

from hotel.models import Room
from tests.factories import AmenityFactory, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = ["hotel", "roomtype", "room", "amenity"]


@pytest.fixture
def room():
    AmenityFactory()
    return RoomFactory()


def _objects(room):
    return {
        "hotel": room.hotel,
        "roomtype": room.room_type,
        "room": room,
        "amenity": AmenityFactory(),
    }


@pytest.mark.parametrize("model", MODELS)
def test_every_catalogue_admin_page_loads_for_staff(staff_client, room, model):
    obj = _objects(room)[model]
    for url in (
        reverse(f"admin:hotel_{model}_changelist"),
        reverse(f"admin:hotel_{model}_add"),
        reverse(f"admin:hotel_{model}_change", args=[obj.pk]),
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize("model", MODELS)
def test_catalogue_admin_is_refused_to_guests_and_anonymous_visitors(client, room, model):
    url = reverse(f"admin:hotel_{model}_changelist")
    assert client.get(url).status_code == 302
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_search_on_the_hotel_list_works(staff_client, room):
    response = staff_client.get(reverse("admin:hotel_hotel_changelist"), {"q": room.hotel.city})
    assert room.hotel.name in response.content.decode()


def _room_inline_data(room_type, numbers):
    data = {
        "hotel": room_type.hotel.pk,
        "name": room_type.name,
        "slug": room_type.slug,
        "description": "",
        "max_adults": 2,
        "max_children": 1,
        "max_occupancy": 3,
        "base_occupancy": 2,
        "beds": "1 queen bed",
        "base_price": "100.00",
        "is_active": "on",
        "sort_order": 0,
        "rooms-TOTAL_FORMS": len(numbers),
        "rooms-INITIAL_FORMS": 0,
        "rooms-MIN_NUM_FORMS": 0,
        "rooms-MAX_NUM_FORMS": 1000,
    }
    for i, number in enumerate(numbers):
        data.update(
            {f"rooms-{i}-number": number, f"rooms-{i}-floor": 1, f"rooms-{i}-is_active": "on"}
        )
    return data


def test_rooms_added_inline_take_the_room_types_hotel(staff_client, room):
    room_type = room.room_type
    url = reverse("admin:hotel_roomtype_change", args=[room_type.pk])
    response = staff_client.post(url, _room_inline_data(room_type, ["201", "202"]))
    assert response.status_code == 302
    assert set(Room.objects.filter(number__in=["201", "202"]).values_list("hotel", flat=True)) == {
        room_type.hotel_id
    }


def test_a_duplicate_room_number_inline_is_refused_with_a_message(staff_client, room):
    room_type = room.room_type
    url = reverse("admin:hotel_roomtype_change", args=[room_type.pk])
    response = staff_client.post(url, _room_inline_data(room_type, [room.number]))
    assert response.status_code == 200
    assert f"Room {room.number} already exists in this hotel." in response.content.decode()
    assert Room.objects.filter(number=room.number).count() == 1


def test_room_changelist_costs_the_same_queries_for_2_and_12_rooms(
    staff_client, room, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    RoomFactory(room_type=room.room_type, hotel=room.hotel, number="2")
    url = reverse("admin:hotel_room_changelist")
    with CaptureQueriesContext(connection) as two:
        assert staff_client.get(url).status_code == 200
    for n in range(10):
        RoomFactory(room_type=room.room_type, hotel=room.hotel, number=str(100 + n))

    with django_assert_num_queries(len(two.captured_queries)):
        response = staff_client.get(url)

    assert len(response.context["cl"].result_list) == 12


@pytest.mark.parametrize("room_types", [1, 8])
def test_room_changelist_filters_cost_the_same_for_1_and_8_room_types(
    staff_client, django_assert_num_queries, room_types
):
    from tests.factories import RoomTypeFactory

    for _ in range(room_types):
        RoomFactory(room_type=RoomTypeFactory())
    # user (the session is read from the cache), count, page, filter choices:
    # none per room type
    with django_assert_num_queries(6):
        response = staff_client.get(reverse("admin:hotel_room_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("rooms", [1, 10])
def test_room_type_page_costs_the_same_for_1_and_10_inline_rooms(
    staff_client, django_assert_max_num_queries, rooms
):
    room = RoomFactory()
    for _ in range(rooms - 1):
        RoomFactory(room_type=room.room_type)
    with django_assert_max_num_queries(9):
        response = staff_client.get(
            reverse("admin:hotel_roomtype_change", args=[room.room_type.pk])
        )
    assert response.status_code == 200


def test_a_room_type_cannot_be_moved_to_another_hotel(staff_client, room):
    # given a room type with a room, and another hotel
    from tests.factories import HotelFactory

    room_type, other = room.room_type, HotelFactory()
    url = reverse("admin:hotel_roomtype_change", args=[room_type.pk])
    data = {**_room_inline_data(room_type, []), "hotel": other.pk, "name": "Renamed"}

    response = staff_client.post(url, data)

    # then the edit is saved, but the room type and its room stay with their hotel
    assert response.status_code == 302
    room_type.refresh_from_db()
    room.refresh_from_db()
    assert room_type.name == "Renamed"
    assert room_type.hotel_id == room.hotel_id != other.pk


def test_a_room_cannot_be_moved_to_another_hotel(staff_client, room):
    # given a room, and another hotel with a room type of its own
    from tests.factories import RoomTypeFactory

    other_type = RoomTypeFactory()
    url = reverse("admin:hotel_room_change", args=[room.pk])
    data = {
        "hotel": other_type.hotel_id,
        "room_type": other_type.pk,
        "number": room.number,
        "floor": 1,
        "is_active": "on",
    }

    response = staff_client.post(url, data)

    # then the hotel is not a field of the form, and the other hotel's room type is refused
    assert response.status_code == 200
    assert "The room type belongs to another hotel." in response.content.decode()
    room.refresh_from_db()
    assert room.hotel_id != other_type.hotel_id
    assert room.room_type.hotel_id == room.hotel_id
