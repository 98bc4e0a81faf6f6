"""What the site does while PostgreSQL cannot be reached, and when it is back.

The server is reached through a switch on a port of its own (the outage
benchmark's): up, it relays to the test database's server; down, it hangs up
at once, as a server that is restarting or gone does, and counts the
connections tried; silent, the kernel drops every packet to and from it, as
when the server's host or the network fails (nftables, as root: CI has both).
"""

import copy
import os
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from psycopg_pool import PoolTimeout

from benchmarks.switch import DatabaseSwitch
from bookings.models import Booking
from config.postgresql.base import (
    PROBE_CONNECT_TIMEOUT_S,
    DatabaseUnreachable,
    DatabaseWrapper,
    outage_for,
)
from config.settings.base import _network_timeout_options
from hotel.middleware import DatabaseUnreachableMiddleware
from hotel.models import Hotel
from tests.bookings.conftest import stock
from tests.bookings.test_views import book_data
from tests.factories import HotelFactory, RoomTypeFactory
from tests.servers import require_packet_drop


@pytest.fixture
def pause(settings):
    """A pause no test outlasts; a test ends it with end_pause() where it needs to."""
    settings.DB_UNREACHABLE_PAUSE_SECONDS = 60


def end_pause() -> None:
    outage_for(DEFAULT_DB_ALIAS).end_pause()


@pytest.fixture
def switch():
    host, port = connection.settings_dict["HOST"], connection.settings_dict["PORT"]
    switch = DatabaseSwitch((host or "127.0.0.1", int(port or 5432)))
    yield switch
    switch.close()


@pytest.fixture
def through_switch(switch):
    """Another connection to the test database, through the switch.

    Under the default alias, which django.contrib.postgres looks up when a
    connection opens; the suite's own connection to it is already open.
    """
    opened = []

    def add(options=None, **pool):
        settings_dict = copy.deepcopy(connection.settings_dict)
        settings_dict.update(HOST="127.0.0.1", PORT=str(switch.port), CONN_HEALTH_CHECKS=True)
        settings_dict["OPTIONS"].pop("pool", None)
        settings_dict["OPTIONS"].update(options or {})
        if pool:
            settings_dict["OPTIONS"]["pool"] = pool
        opened.append(DatabaseWrapper(settings_dict, alias=DEFAULT_DB_ALIAS))
        return opened[-1]

    yield add
    for db in opened:
        db.close()
        if db.pool is not None:
            db.close_pool()


def _unreachable_as_django_says(db) -> None:
    """With no pause, Django's own error: the driver's, not DatabaseUnreachable."""
    with pytest.raises(OperationalError) as raised:
        db.ensure_connection()
    assert not isinstance(raised.value.__cause__, DatabaseUnreachable)


def _unreachable(db) -> DatabaseUnreachable:
    with pytest.raises(OperationalError) as raised:
        db.ensure_connection()
    assert isinstance(raised.value.__cause__, DatabaseUnreachable)
    return raised.value.__cause__


@pytest.mark.django_db
def test_after_a_failed_connection_the_process_does_not_try_again_until_the_pause_ends(
    switch, through_switch, pause
):
    db = through_switch()
    switch.down()

    _unreachable(db)
    assert switch.refused == 1

    # within the pause: failing at once, without knocking
    error = _unreachable(db)
    assert switch.refused == 1
    assert "has not answered" in str(error)

    end_pause()
    _unreachable(db)
    assert switch.refused == 2


@pytest.mark.django_db
def test_once_the_server_is_back_the_first_try_after_the_pause_connects(
    switch, through_switch, pause
):
    db = through_switch()
    switch.down()
    _unreachable(db)

    switch.back()
    # the pause holds even though the server answers again
    _unreachable(db)
    assert switch.refused == 1

    end_pause()
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert outage_for(DEFAULT_DB_ALIAS).since is None


def test_when_the_pause_ends_one_caller_tries_while_the_others_still_fail_at_once(pause):
    outage = outage_for(DEFAULT_DB_ALIAS)
    outage.failed(ConnectionRefusedError("refused"))
    outage.end_pause()

    assert outage.admit(hold=30) is True
    with pytest.raises(DatabaseUnreachable, match="Last error: refused"):
        outage.admit(hold=30)

    outage.recovered()
    assert outage.admit(hold=30) is False


def test_a_late_failure_of_another_request_does_not_let_a_second_retry_in(pause):
    outage = outage_for(DEFAULT_DB_ALIAS)
    outage.failed(ConnectionRefusedError("refused"))
    outage.end_pause()
    assert outage.admit(hold=30) is True

    # a request admitted before the outage fails while the retry still runs
    outage.failed(ConnectionResetError("reset"))
    outage.end_pause()

    with pytest.raises(DatabaseUnreachable, match="Last error: reset"):
        outage.admit(hold=30)
    # the retry's own failure starts the next pause, after which one may try
    outage.failed(ConnectionRefusedError("refused"), retry=True)
    outage.end_pause()
    assert outage.admit(hold=30) is True


@pytest.mark.django_db
def test_a_pause_of_0_turns_the_pause_off(switch, through_switch, settings):
    settings.DB_UNREACHABLE_PAUSE_SECONDS = 0
    db = through_switch()
    switch.down()

    _unreachable_as_django_says(db)
    _unreachable_as_django_says(db)

    assert switch.refused == 2


@pytest.mark.django_db
def test_a_pooled_process_connects_once_the_server_is_back_not_at_the_pools_next_try(
    switch, through_switch, pause
):
    # given a pool whose one connection has failed for 4 s: psycopg_pool
    # tries again after 1, 2, then 4 s, so its next try is about 7 s away
    db = through_switch(min_size=1, max_size=1, timeout=1.0)
    switch.down()
    error = _unreachable(db)
    assert isinstance(error.__cause__, PoolTimeout)
    time.sleep(3)
    assert switch.refused >= 2

    # when the server is back
    switch.back()
    end_pause()
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
        # then the first try connects through a new pool
        assert cursor.fetchone() == (1,)
    assert outage_for(DEFAULT_DB_ALIAS).since is None


@pytest.mark.django_db
def test_a_request_waiting_on_a_pool_the_retry_replaced_gets_its_connection_from_the_new_one(
    switch, through_switch
):
    # given a pool of one connection, held, and a second request waiting for it
    pool = {"min_size": 1, "max_size": 1, "timeout": 10.0}
    holder, waiter = through_switch(**pool), through_switch(**pool)
    holder.ensure_connection()
    errors = []

    def wait() -> None:
        try:
            waiter.ensure_connection()
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()

    # when a retry puts a new pool in the old one's place
    holder._replace_pool()
    thread.join(timeout=10)

    # then the waiting request is served by the new pool, not failed
    assert not thread.is_alive()
    assert errors == []
    assert waiter.connection is not None


def _socket_options(db) -> dict[str, int]:
    """The TCP options of the socket under ``db``'s open connection."""
    sock = socket.socket(fileno=os.dup(db.connection.pgconn.socket))
    try:
        return {
            "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            "interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            "count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            "user_timeout_ms": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
        }
    finally:
        sock.close()


@pytest.mark.django_db
@pytest.mark.parametrize("pooled", [False, True])
def test_every_connection_gives_up_on_a_silent_host_after_the_network_timeout(
    through_switch, settings, pooled
):
    # given the site's settings (DB_NETWORK_TIMEOUT_SECONDS, 5 s by default)
    assert settings.DB_NETWORK_TIMEOUT_SECONDS == 5
    db = through_switch(**({"min_size": 1, "max_size": 2, "timeout": 5.0} if pooled else {}))

    # when a connection is opened, by the pool or directly
    db.ensure_connection()

    # then its socket counts unacknowledged data as a lost connection after
    # 5 s, and probes the server while idle, rather than the kernel's 15 minutes
    assert _socket_options(db) == {
        "keepalive": 1,
        "idle": 5,
        "interval": 1,
        "count": 5,
        "user_timeout_ms": 5000,
    }
    assert db.settings_dict["OPTIONS"]["connect_timeout"] == 5


@pytest.mark.django_db
def test_the_retry_without_a_pool_waits_the_probes_timeout_not_the_connections_own(
    switch, through_switch, pause, monkeypatch
):
    import psycopg

    # given a process in the pause, whose connections wait 5 s to connect
    db = through_switch()
    assert db.settings_dict["OPTIONS"]["connect_timeout"] == 5
    switch.down()
    _unreachable(db)
    tried = []

    def connect(**params):
        tried.append(params.get("connect_timeout"))
        raise psycopg.OperationalError("connection timeout expired")

    monkeypatch.setattr(psycopg, "connect", connect)

    # when the pause ends and this request is the retry
    end_pause()
    _unreachable(db)

    # then it gives up after the probe's 2 s, which is as long as the others are kept out
    assert tried == [PROBE_CONNECT_TIMEOUT_S] == [2]


@pytest.mark.django_db
def test_a_query_on_a_connection_whose_host_goes_silent_fails_instead_of_waiting_for_minutes(
    switch, through_switch, pause
):
    require_packet_drop()
    # given an open connection that gives up after 1.5 s without an answer
    db = through_switch(options=_network_timeout_options(1.5))
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
    outcome = {}

    def query() -> None:
        try:
            with db.cursor() as cursor:
                cursor.execute("SELECT 1")
            outcome["result"] = "answered"
        except OperationalError as exc:
            outcome["result"] = exc

    # when every packet to and from the server is dropped, as when its host fails
    switch.down(drop=True)
    db.inc_thread_sharing()
    thread = threading.Thread(target=query, daemon=True)
    thread.start()
    # (without the timeout it would wait for the kernel's retransmissions, 15 minutes)
    thread.join(timeout=30)
    db.dec_thread_sharing()

    # then the query fails, the connection is broken and its close says it was lost
    assert not thread.is_alive(), "the query still waits on the silent host"
    assert isinstance(outcome["result"], OperationalError)
    assert db.connection.broken
    db.close()
    assert db.lost_connection
    # and the next connection gives up after connect_timeout, starting the pause
    _unreachable(db)
    since = outage_for(DEFAULT_DB_ALIAS).since
    assert since is not None
    _unreachable(db)
    assert outage_for(DEFAULT_DB_ALIAS).since == since

    # and once the host answers again, the first try after the pause connects
    switch.back()
    assert switch.dropped > 0
    end_pause()
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


class SuiteOnSwitch:
    def __init__(self, switch: DatabaseSwitch) -> None:
        self.switch = switch

    @property
    def refused(self) -> int:
        return self.switch.refused

    def down(self) -> None:
        self.switch.down()
        # As at the end of every request in production, where the pool takes
        # the connection back; the test client keeps it open between requests.
        connection.close()

    def back(self) -> None:
        self.switch.back()
        end_pause()


@pytest.fixture
def on_switch(switch):
    """The suite's own connection goes through the switch; put back afterwards."""
    settings_dict = connection.settings_dict
    host, port = settings_dict["HOST"], settings_dict["PORT"]
    connection.close()
    settings_dict.update(HOST="127.0.0.1", PORT=str(switch.port))
    try:
        yield SuiteOnSwitch(switch)
    finally:
        settings_dict.update(HOST=host, PORT=port)
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_pages_that_need_the_database_answer_503_while_cached_ones_are_still_served(
    client, on_switch, pause
):
    # given a home page in the read cache, and a hotel page that is not
    hotel = HotelFactory()
    assert client.get(reverse("hotel:home")).status_code == 200

    # when the database goes away
    on_switch.down()

    # then the hotel page tells the guest, with a status that says it will pass
    response = client.get(hotel.get_absolute_url())
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-cache" in response["Cache-Control"]
    assert "Our booking system cannot be reached just now" in response.content.decode()
    # and the cached home page still answers, without trying the database
    refused = on_switch.refused
    assert client.get(reverse("hotel:home")).status_code == 200
    assert client.get(hotel.get_absolute_url()).status_code == 503
    assert on_switch.refused == refused

    # and once the database is back, the hotel page is served again
    on_switch.back()
    assert client.get(hotel.get_absolute_url()).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_request_whose_connection_breaks_under_it_answers_503_and_says_to_wait_for_the_email(
    client, on_switch
):
    seen, unseen = HotelFactory(), HotelFactory()
    # given a connection open through the switch (the test client keeps it between requests)
    assert client.get(seen.get_absolute_url()).status_code == 200

    # when the server goes away under it, and a page the cache does not hold is asked for
    on_switch.switch.down()
    response = client.get(unseen.get_absolute_url())

    # then the guest is told it will pass, not that nothing happened
    assert response.status_code == 503
    page = response.content.decode()
    assert "wait for its email before you try again" in page
    assert "Nothing was booked" not in page


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server_back_before_the_rollback", [False, True])
def test_a_transaction_whose_connection_breaks_gets_the_page_that_says_it_may_have_committed(
    rf, on_switch, pause, server_back_before_the_rollback
):
    # given a write's transaction under way through the switch
    with pytest.raises(OperationalError) as raised, transaction.atomic():
        Hotel.objects.count()
        # when the server goes away before the commit: the atomic block closes
        # the broken connection and opens another, which fails or succeeds
        on_switch.switch.down()
        try:
            Hotel.objects.count()
        finally:
            if server_back_before_the_rollback:
                on_switch.back()

    response = DatabaseUnreachableMiddleware(lambda request: None).process_exception(
        rf.post("/bookings/hold/"), raised.value
    )

    # then the guest is told to wait for the email, not that nothing happened
    assert response is not None and response.status_code == 503
    page = response.content.decode()
    assert "wait for its email before you try again" in page
    assert "Nothing was booked" not in page


def test_each_request_starts_with_no_lost_connection(rf):
    connection.lost_connection = True
    seen = []

    def view(request):
        seen.append(connection.lost_connection)

    DatabaseUnreachableMiddleware(view)(rf.get("/"))

    assert seen == [False]


@pytest.mark.django_db(transaction=True)
def test_a_hold_asked_for_while_the_database_is_down_answers_503_and_books_nothing(
    client, on_switch, pause
):
    arrival = timezone.localdate() + timedelta(days=20)
    room_type = RoomTypeFactory()
    stock(room_type, start=arrival, nights=3)
    data = book_data(room_type, arrival)
    on_switch.down()

    response = client.post(reverse("bookings:hold"), data)

    assert response.status_code == 503
    assert "Nothing was booked" in response.content.decode()
    on_switch.back()
    assert not Booking.objects.exists()
    # the same form books once the database is back
    assert client.post(reverse("bookings:hold"), data).status_code == 302
    assert Booking.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_health_reports_the_database_down_at_once_during_the_pause(client, on_switch, pause):
    on_switch.down()
    assert client.get(reverse("health")).status_code == 503
    refused = on_switch.refused

    response = client.get(reverse("health"))

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "error"}
    assert on_switch.refused == refused


@pytest.mark.django_db
def test_a_failing_statement_is_not_taken_for_an_outage(rf):
    with pytest.raises(OperationalError) as raised, connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(1)")

    assert outage_for(connection.alias).since is None
    # left to Django's 500 page, which is logged with its traceback
    middleware = DatabaseUnreachableMiddleware(lambda request: None)
    assert middleware.process_exception(rf.get("/"), raised.value) is None
