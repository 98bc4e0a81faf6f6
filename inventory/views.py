from datetime import timedelta
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404
from django.urls import get_script_prefix
from django.utils import timezone
from django.views.decorators.http import require_GET

from caching.api import cached, namespace_version
from caching.fragments import conditions, form_key, render_pieces, shared_fragments
from caching.pages import render_page
from hotel.forms import StayForm
from hotel.models import RoomType
from hotel.selectors import room_type_for_page

from .blocks import room_type_calendar_block
from .cards import option_card, search_result_card
from .forms import InventorySearchForm
from .selectors import (
    CATALOGUE_TTL,
    GUEST_CALENDAR_DAYS,
    room_types_availability,
    search_hotels,
    search_namespaces,
)

RESULTS_PER_PAGE = 10
# A results page weighs about 50 KB: kept shorter than the figures it is
# rendered from, so that the shared tier holds the searches asked for lately.
RESULTS_TTL = 60


@require_GET
def search(request):
    """Hotels and room types free for the stay and party; bad input re-renders with messages."""
    form = InventorySearchForm(request.GET or None)
    context = {"form": form, "results": None}
    status = 200
    # The form's errors depend on today (no past check-in) and its amenity
    # choices and party limits on the catalogue, whose version is read before
    # them. Its checkboxes, the costly part, are a fragment of their own that
    # does not change with the stay.
    catalogue = namespace_version("catalogue")
    valid = form.is_bound and form.is_valid()
    context["form_key"] = form_key(form, timezone.now().date(), catalogue)
    context["filters_key"] = form_key(form, catalogue, fields=("stars", "amenities"))
    if valid:
        data = form.cleaned_data
        # Only the form's own fields: they name the results (and the cache
        # key), so parameters the page ignores cannot multiply the entries.
        query = urlencode([(name, v) for name in form.fields for v in request.GET.getlist(name)])
        page_number = request.GET.get("page")

        def render_results() -> tuple[str, ...]:
            results = search_hotels(
                q=data["q"],
                check_in=data["check_in"],
                check_out=data["check_out"],
                adults=data["adults"],
                children=data["children"],
                stars=data["stars"],
                amenities=[a.slug for a in data["amenities"]],
                sort=data["sort"],
            )
            page = Paginator(results, RESULTS_PER_PAGE).get_page(page_number)
            prefix = get_script_prefix()
            cards = [search_result_card(result, prefix=prefix) for result in page]
            # The page's hotels, each a shared fragment: one round trip to Redis for all.
            with shared_fragments(
                "inventory/_search_result.html", [{"result": card} for card in cards]
            ):
                return render_pieces(
                    "inventory/_search_results.html",
                    {"page": page, "results": cards, "query": query, "stay": data},
                )

        # The results are a function of the query (the cleaned data follows
        # from it) and of the data search_hotels reads: cached under the same
        # namespaces, they are rendered once for every process and again only
        # after a write to the city's nights of the stay or to the catalogue.
        namespaces = search_namespaces(
            q=data["q"], check_in=data["check_in"], check_out=data["check_out"]
        )
        context["results"] = (
            cached(
                namespaces,
                ["search-results", *conditions(), query, page_number],
                render_results,
                ttl=RESULTS_TTL,
                # Two guests rarely miss on one search at once; the stampede
                # lock's round trips would cost on every miss.
                lock=False,
            )
            if namespaces
            else render_results()
        )
    elif form.is_bound:
        status = 400
    # The form's keys name the form and the title (its data, today, the
    # catalogue), the results' pieces name themselves.
    key = (
        ("search", context["form_key"], context["filters_key"], context["results"])
        if context["form_key"] is not None
        else None
    )
    return render_page(
        request,
        "inventory/search.html",
        context,
        key=key,
        max_age=CATALOGUE_TTL,
        status=status,
    )


@require_GET
def room_type_detail(request, slug, room_type_slug):
    """A room type with its 60-day availability and price calendar, and a quote for a stay."""

    def load() -> RoomType | None:
        try:
            return room_type_for_page(hotel_slug=slug, slug=room_type_slug)
        except RoomType.DoesNotExist:
            return None

    # Read before the room type, as the hotel page reads it: the page kept
    # under a version is never older than that version.
    catalogue = namespace_version("catalogue")
    room_type = cached("catalogue", ["room-type", slug, room_type_slug], load, ttl=CATALOGUE_TTL)
    if room_type is None:
        raise Http404("No such room type.")
    today = timezone.now().astimezone(room_type.hotel.tzinfo).date()
    # Validation reads the UTC date (StayForm.earliest_check_in).
    utc_today = timezone.now().date()
    calendar = room_type_calendar_block(room_type=room_type, start=today, days=GUEST_CALENDAR_DAYS)
    stay_form = StayForm(request.GET) if "check_in" in request.GET else None
    option = None
    status = 200
    if stay_form is not None:
        if stay_form.is_valid():
            data = stay_form.cleaned_data
            [availability] = room_types_availability(
                room_types=[room_type],
                check_in=data["check_in"],
                check_out=data["check_out"],
                adults=data["adults"],
                children=data["children"],
            )
            option = option_card(availability)
        else:
            status = 400

    def context() -> dict:
        # Without a stay asked for, the form offers one from tomorrow.
        form = (
            stay_form
            if stay_form is not None
            else StayForm(
                initial={
                    "check_in": today + timedelta(days=1),
                    "check_out": today + timedelta(days=2),
                }
            )
        )
        return {
            "room_type": room_type,
            "hotel": room_type.hotel,
            "calendar": calendar,
            "calendar_days": GUEST_CALENDAR_DAYS,
            "stay_form": form,
            "stay_form_key": form_key(form, today, utc_today),
            "option": option,
        }

    # The catalogue's version names the room type and its hotel, the
    # calendar's pieces and the option name themselves; the form is named by
    # the stay asked for, or by the days it offers one from.
    stay_key = (
        form_key(stay_form, today, utc_today)
        if stay_form is not None
        else ("no stay", today, utc_today)
    )
    return render_page(
        request,
        "inventory/room_type_detail.html",
        context,
        key=(
            ("room-type", room_type.pk, catalogue, calendar, stay_key, option)
            if catalogue is not None
            else None
        ),
        max_age=CATALOGUE_TTL,
        status=status,
    )
