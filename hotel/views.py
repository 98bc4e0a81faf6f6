import logging

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from caching.api import cached, namespace_version
from caching.fragments import form_key
from caching.pages import render_page

from . import selectors
from .cards import city_cards
from .forms import HotelListForm, SearchForm, StayForm
from .models import Hotel

logger = logging.getLogger(__name__)

HOTELS_PER_PAGE = 12
CATALOGUE_TTL = 300
STAY_FIELDS = ("check_in", "check_out", "adults", "children")


@require_GET
def home(request):
    # The page shows the search form, the same for everyone, and the cities,
    # read under the catalogue's version: read first, so that the page kept
    # under it is never older. A page served from memory builds neither.
    catalogue = namespace_version("catalogue")

    def context() -> dict:
        form = SearchForm(initial={"adults": 2, "children": 0})
        cities = cached("catalogue", ["cities"], selectors.cities, ttl=CATALOGUE_TTL)
        return {"form": form, "form_key": form_key(form), "cities": city_cards(cities)}

    return render_page(
        request,
        "hotel/home.html",
        context,
        key=None if catalogue is None else ("home", catalogue),
        max_age=CATALOGUE_TTL,
    )


@require_GET
def hotel_list(request):
    form = HotelListForm(request.GET or None)
    filters = {"city": "", "min_stars": None, "sort": "name"}
    if form.is_bound and form.is_valid():
        filters = {
            "city": form.cleaned_data["city"],
            "min_stars": form.cleaned_data["stars"],
            "sort": form.cleaned_data["sort"],
        }
    paginator = Paginator(selectors.hotels_for_list(**filters), HOTELS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    cities = cached("catalogue", ["cities"], selectors.cities, ttl=CATALOGUE_TTL)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "hotel/hotel_list.html",
        {"form": form, "page": page, "cities": cities, "query": query.urlencode()},
    )


@require_GET
def hotel_detail(request, slug: str):
    def load() -> selectors.HotelPage | None:
        try:
            return selectors.hotel_for_page(slug=slug)
        except Hotel.DoesNotExist:
            return None

    # The header shows only the catalogue's page, so its rendering is kept
    # until the catalogue moves on. The version is read before the page: a
    # rendering is then never older than the version it is kept under.
    catalogue = namespace_version("catalogue")
    page = cached("catalogue", ["hotel-page", slug], load, ttl=CATALOGUE_TTL)
    if page is None:
        raise Http404("No such hotel.")
    header_key = None if catalogue is None else ("hotel-header", page.hotel.pk, catalogue)
    # What the stay's fields show, as the guest typed it.
    stay = {name: request.GET.get(name, "") for name in STAY_FIELDS}
    stay_form = StayForm(request.GET) if "check_in" in request.GET else None
    availability = None
    valid = stay_form is None or stay_form.is_valid()
    if stay_form is not None and valid:
        availability = hotel_availability_for(page.hotel, stay_form.cleaned_data)
    return render_page(
        request,
        "hotel/hotel_detail.html",
        {
            "hotel": page.hotel,
            "header_key": header_key,
            "amenities": page.amenities,
            "room_types": page.room_types,
            "stay": stay,
            "stay_form": stay_form,
            "availability": availability,
        },
        # The catalogue's version names the hotel and its room types, the
        # options' pieces name themselves; a stay's errors (rare) depend on
        # today too, so such a page is rendered every time.
        key=(
            ("hotel", header_key, tuple(stay.values()), availability)
            if header_key is not None and valid
            else None
        ),
        max_age=CATALOGUE_TTL,
    )


def hotel_availability_for(hotel: Hotel, stay: dict) -> tuple[str, ...]:
    from inventory.blocks import hotel_options

    return hotel_options(
        hotel=hotel,
        check_in=stay["check_in"],
        check_out=stay["check_out"],
        adults=stay["adults"],
        children=stay["children"],
    )


@never_cache
@require_GET
def health(request):
    """Liveness and readiness: 200 while the database answers, 503 when it does not.

    A cache or broker outage degrades the site (slower pages, later emails) but
    does not take it down, so it is reported without failing the check; so is
    a newest verified backup older than BACKUP_MAX_AGE_HOURS.
    """
    from backups.selectors import backup_health
    from caching.stats import summary as cache_summary

    checks = {"database": _check_database(), "cache": _check_cache(), "broker": _check_broker()}
    database_ok = checks["database"]["status"] == "ok"
    if database_ok:
        checks["backups"] = backup_health()
    degraded = any(check["status"] not in ("ok", "disabled") for check in checks.values())
    status = "down" if not database_ok else ("degraded" if degraded else "ok")
    body = {"status": status, "checks": checks}
    # The probe is public; error texts and cache internals are for staff.
    if settings.DEBUG or (database_ok and request.user.is_staff):
        body["cache_stats"] = cache_summary()
    else:
        for check in checks.values():
            check.pop("error", None)
    return JsonResponse(body, status=200 if database_ok else 503)


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:
        logger.error("health: database unreachable: %s", exc)
        return {"status": "error", "error": str(exc)[:200]}


def _check_cache() -> dict:
    # django-redis ignores connection errors (fail-open), so a round trip that
    # does not return what it stored is how an outage shows.
    try:
        cache.set("health:probe", "1", timeout=5)
        ok = cache.get("health:probe") == "1"
    except Exception as exc:
        return {"status": "error", "error": str(exc)[:200]}
    return {"status": "ok"} if ok else {"status": "error", "error": "cache did not answer"}


# How long /health/ waits for the broker: load balancers give a probe a few seconds.
BROKER_PROBE_TIMEOUT_S = 1.0


def _check_broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
        return {"status": "disabled", "detail": "tasks run eagerly in the web process"}
    from config.celery import app

    try:
        # Its own connection, with a short connect timeout: a broker host
        # that drops packets would otherwise hold the probe for the
        # publishers' CELERY_BROKER_CONNECTION_TIMEOUT.
        with app.connection_for_write(
            connect_timeout=BROKER_PROBE_TIMEOUT_S,
            transport_options={
                "socket_connect_timeout": BROKER_PROBE_TIMEOUT_S,
                "socket_timeout": BROKER_PROBE_TIMEOUT_S,
            },
        ) as conn:
            # One attempt: a retry waits two seconds first, which made the
            # probe take longer than a load balancer's timeout while the
            # broker was down, and the probe asks again anyway.
            conn.ensure_connection(max_retries=0, timeout=BROKER_PROBE_TIMEOUT_S)
        return {"status": "ok"}
    except Exception as exc:
        return {"status": "error", "error": str(exc)[:200]}
