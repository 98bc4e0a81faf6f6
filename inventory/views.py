from datetime import timedelta
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from hotel.forms import StayForm
from hotel.models import RoomType

from .forms import InventorySearchForm
from .selectors import (
    GUEST_CALENDAR_DAYS,
    room_type_calendar,
    room_types_availability,
    search_hotels,
)

RESULTS_PER_PAGE = 10


@require_GET
def search(request):
    """Hotels and room types free for the stay and party; bad input re-renders with messages."""
    form = InventorySearchForm(request.GET or None)
    context = {"form": form, "page": None}
    status = 200
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
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
        context["page"] = Paginator(results, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
        context["query"] = urlencode(
            [(k, v) for k, values in request.GET.lists() if k != "page" for v in values]
        )
        context["stay"] = data
    elif form.is_bound:
        status = 400
    return render(request, "inventory/search.html", context, status=status)


def _weeks(days: list) -> list[list]:
    """Calendar days in Monday-first weeks, padded with None before the first day."""
    if not days:
        return []
    cells = [None] * days[0].date.weekday() + list(days)
    cells += [None] * (-len(cells) % 7)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


@require_GET
def room_type_detail(request, slug, room_type_slug):
    """A room type with its 60-day availability and price calendar, and a quote for a stay."""
    room_type = get_object_or_404(
        RoomType.objects.select_related("hotel", "supplement").prefetch_related("amenities"),
        hotel__slug=slug,
        hotel__is_active=True,
        slug=room_type_slug,
        is_active=True,
    )
    today = timezone.now().astimezone(room_type.hotel.tzinfo).date()
    days = room_type_calendar(room_type=room_type, start=today, days=GUEST_CALENDAR_DAYS)
    stay_form = (
        StayForm(request.GET)
        if "check_in" in request.GET
        else StayForm(
            initial={"check_in": today + timedelta(days=1), "check_out": today + timedelta(days=2)}
        )
    )
    option = None
    status = 200
    if stay_form.is_bound:
        if stay_form.is_valid():
            data = stay_form.cleaned_data
            [option] = room_types_availability(
                room_types=[room_type],
                check_in=data["check_in"],
                check_out=data["check_out"],
                adults=data["adults"],
                children=data["children"],
            )
        else:
            status = 400
    return render(
        request,
        "inventory/room_type_detail.html",
        {
            "room_type": room_type,
            "hotel": room_type.hotel,
            "weeks": _weeks(days),
            "days": days,
            "stay_form": stay_form,
            "option": option,
        },
        status=status,
    )
