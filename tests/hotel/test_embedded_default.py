"""The embedded default: with no environment the project runs on SQLite alone."""

import json
from datetime import date, timedelta

from tests.servers import embedded_env, fetch, gunicorn, manage, runserver, shell


def test_with_no_environment_the_server_starts_on_sqlite_and_serves_the_demo(tmp_path):
    # given a fresh machine: no service URLs, an empty SQLite file
    env = embedded_env(tmp_path)
    migrate = manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    seed = manage("seed_demo", env=env)
    assert seed.returncode == 0, seed.stderr
    assert "staff / " in seed.stdout
    # and the hotel page's catalogue, read in plain SQL, has the ORM's values and types
    differing = shell(
        """
from hotel.models import Hotel
from hotel.selectors import hotel_for_page
page = hotel_for_page(slug="alfama-riverside")
orm = Hotel.objects.get(slug="alfama-riverside")
print([
    (f.name, getattr(page.hotel, f.attname), getattr(orm, f.attname))
    for f in Hotel._meta.concrete_fields
    if repr(getattr(page.hotel, f.attname)) != repr(getattr(orm, f.attname))
])
""",
        env=env,
    )
    assert differing == "[]"
    # and My bookings, read in plain SQL, lists a hold as the ORM's definition does
    listed = shell(
        """
from datetime import date, timedelta
from django.contrib.auth import get_user_model
from bookings import selectors
from bookings.services import booking_hold
from hotel.models import RoomType
guest = get_user_model().objects.get(username="guest")
check_in = date.today() + timedelta(days=40)
booking_hold(
    room_type=RoomType.objects.get(slug="junior-suite"),
    check_in=check_in, check_out=check_in + timedelta(days=2), adults=2, guest=guest,
)
page = selectors.guest_bookings_page(guest=guest, past=False, number=1, per_page=10)
orm = list(selectors.bookings_for_guest(guest=guest))
rows = [(r.reference, r.check_in, r.total_price, r.room_type_name, r.status)
        for r in page.object_list]
print(rows == [(b.reference, b.check_in, b.total_price, b.room_type.name, b.status)
               for b in orm], page.paginator.count == len(orm) > 0)
""",
        env=env,
    )
    assert listed == "True True"
    # and the booking flow's reads (the booking, the room type for sale, the
    # stay's nights), in plain SQL, have the ORM's values and types
    differing = shell(
        """
from bookings import selectors
from bookings.models import Booking
from bookings.services import booking_confirm, booking_update_details
from hotel.models import Room
held = Booking.objects.latest("pk")
Booking.objects.filter(pk=held.pk).update(
    room=Room.objects.filter(room_type_id=held.room_type_id).first()
)
orm = Booking.objects.select_related("hotel", "room_type", "room", "guest").get(pk=held.pk)
read = selectors.booking_for_page(reference=orm.reference)
pairs = [(read, orm), (read.hotel, orm.hotel), (read.room_type, orm.room_type),
         (read.room, orm.room), (read.guest, orm.guest)]
from hotel.models import RoomType
from hotel.selectors import room_type_for_sale
from inventory.models import RoomInventory
from inventory.services import inventory_check
for_sale = room_type_for_sale(pk=orm.room_type_id)
pairs += [(for_sale, RoomType.objects.get(pk=orm.room_type_id)), (for_sale.hotel, orm.hotel)]
nights = inventory_check(room_type=orm.room_type, check_in=orm.check_in, check_out=orm.check_out)
pairs += zip(nights, RoomInventory.objects.filter(
    room_type=orm.room_type, date__gte=orm.check_in, date__lt=orm.check_out).order_by("date"),
    strict=True)
booking = booking_update_details(booking=read, guest_name="Ana", guest_email="ana@example.com")
booking = booking_confirm(booking=booking, policy_accepted=True)
pairs.append((selectors.booking_for_page(reference=orm.reference), Booking.objects.get(pk=orm.pk)))
deferred = [(type(mine).__name__, mine.get_deferred_fields()) for mine, _orm in pairs]
print([
    (type(orm).__name__, f.name, getattr(mine, f.attname), getattr(orm, f.attname))
    for mine, orm in pairs for f in type(orm)._meta.concrete_fields
    if repr(getattr(mine, f.attname)) != repr(getattr(orm, f.attname))
], [found for found in deferred if found[1]], read.room is not None, booking.status)
""",
        env=env,
    )
    # (the confirmation's email, sent eagerly to the console, comes first)
    assert differing.splitlines()[-1] == "[] [] True confirmed"

    # when the server runs
    check_in = date.today() + timedelta(days=30)
    stay = f"check_in={check_in}&check_out={check_in + timedelta(days=3)}&adults=2"
    with runserver(env) as base:
        status, home = fetch(base + "/")
        health_status, health = fetch(base + "/health/")
        search_status, search = fetch(f"{base}/search/?q=Lisbon&{stay}")
        hotel_status, hotel = fetch(base + "/hotels/alfama-riverside/")
        room_status, room = fetch(f"{base}/hotels/alfama-riverside/rooms/junior-suite/?{stay}")

    # then the home page lists the demo cities and the health check is on SQLite
    assert status == 200
    assert "Lisbon" in home and "Porto" in home
    assert health_status == 200
    assert json.loads(health)["checks"]["database"]["vendor"] == "sqlite"
    # and availability, aggregated in SQL, prices the demo stay on SQLite too
    assert search_status == 200
    assert "Alfama Riverside Hotel" in search and "€285.00" in search
    # and the hotel page reads its catalogue, in SQL, on SQLite too
    assert hotel_status == 200
    assert "Junior Suite" in hotel and "€240.00" in hotel and "Free Wi-Fi" in hotel
    assert "from 15:00 · <strong>check-out</strong> by 11:00" in hotel
    # and the room type page's calendar and quote, built in Python, on SQLite too
    assert room_status == 200
    assert 'class="cal"' in room and ("Available<br>€" in room or " left<br>€" in room)
    assert 'name="idempotency_key"' in room and "for 3 nights" in room


def test_health_answers_503_when_the_database_is_down(tmp_path):
    # given production settings whose database does not answer
    env = embedded_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="a-long-random-secret-for-this-test-only-0123456789",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/hotel",
        DB_POOL_TIMEOUT="1",
    )
    with gunicorn(env) as base:
        status, body = fetch(base + "/health/")
    assert status == 503
    assert json.loads(body)["checks"]["database"]["status"] == "error"


def test_production_settings_pass_the_deploy_checks_with_no_warning(tmp_path):
    env = embedded_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="k7Hq2-pW9zR4xV1mT8yN3bC6dF0gJ5sL-aE2uI7oP4qW9rT1yU6iO3pA8sD5fG0h",
        ALLOWED_HOSTS="hotel.example.com",
        EMAIL_URL="smtp+tls://bookings:secret@smtp.example.com:587",
    )
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = embedded_env(tmp_path, DJANGO_SETTINGS_MODULE="config.settings.production")
    env.pop("SECRET_KEY", None)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production." in result.stderr
