"""Staff operations on bookings. Every change calls a service; nothing edits a status by hand."""

import csv
from datetime import date

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from hotel.admin_mixins import CheckedSelectionMixin
from hotel.models import Hotel

from . import selectors, services
from .exceptions import BookingError, StayNotAvailable
from .forms import OccupancyReportForm, PhoneBookingForm
from .models import Booking, BookingEvent, BookingNight
from .reports import occupancy_report, occupancy_report_csv_rows

GUEST_FIELDS = ("guest_name", "guest_email", "guest_phone", "special_requests")


class BookingNightInline(admin.TabularInline):
    model = BookingNight
    fields = ("date", "price")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # Each row's __str__ names the booking's reference: one query per night without this.
        return super().get_queryset(request).select_related("booking")


class BookingEventInline(admin.TabularInline):
    model = BookingEvent
    fields = ("at", "by", "from_status", "to_status", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by", "booking")


def _run(modeladmin, request, queryset: QuerySet[Booking], verb: str, call) -> None:
    """Call a service on each selected booking; report successes and each refusal by reference."""
    done, refused = 0, []
    for booking in queryset.select_related("hotel", "room_type").order_by("pk"):
        try:
            call(booking)
            done += 1
        except BookingError as exc:
            refused.append(str(exc))
    if done:
        modeladmin.message_user(
            request,
            _("%(n)d booking(s) %(verb)s.") % {"n": done, "verb": verb},
            messages.SUCCESS,
        )
    for message in refused:
        modeladmin.message_user(request, message, messages.ERROR)


@admin.register(Booking)
class BookingAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "guest_name",
        "hotel",
        "room_type_name",
        "check_in",
        "check_out",
        "status",
        "total",
        "room_number",
        "source",
    )
    list_filter = ("hotel", "status", ("check_in", admin.DateFieldListFilter), "source")
    search_fields = ("=reference", "guest_name", "guest_email")
    date_hierarchy = "check_in"
    list_select_related = ("hotel", "room_type", "room")
    list_per_page = 100
    show_full_result_count = False
    ordering = ("-check_in", "-pk")
    inlines = (BookingNightInline, BookingEventInline)
    actions = (
        "confirm",
        "cancel",
        "cancel_waiving_fee",
        "check_in_guests",
        "check_out_guests",
        "mark_no_show",
        "assign_rooms",
    )
    fieldsets = (
        (None, {"fields": ("reference", "status", "source", "hotel", "room_type", "room")}),
        (_("Stay"), {"fields": ("check_in", "check_out", "adults", "children", "hold_expires_at")}),
        (_("Guest"), {"fields": ("guest", *GUEST_FIELDS)}),
        (
            _("Price and policy (snapshot)"),
            {
                "fields": (
                    "currency",
                    "total_price",
                    "cancellation_policy",
                    "cancellation_fee",
                    "policy_accepted_at",
                )
            },
        ),
        (_("Times"), {"fields": ("created_at", "updated_at", "confirmed_at", "cancelled_at")}),
    )

    @admin.display(description=_("room type"), ordering="room_type__name")
    def room_type_name(self, obj: Booking) -> str:
        return obj.room_type.name

    @admin.display(description=_("room"), ordering="room__number")
    def room_number(self, obj: Booking) -> str:
        return obj.room.number if obj.room_id else "—"

    @admin.display(description=_("total"), ordering="total_price")
    def total(self, obj: Booking) -> str:
        return f"{obj.total_price} {obj.currency}"

    # --- the change form: guest details only, through the service ---------------

    def get_readonly_fields(self, request, obj=None):
        everything = [f.name for f in Booking._meta.fields if f.name != "id"]
        if obj is not None and obj.status in (Booking.Status.HOLD, Booking.Status.CONFIRMED):
            return [name for name in everything if name not in GUEST_FIELDS]
        return everything

    def has_add_permission(self, request) -> bool:
        return self.has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        # A booking is cancelled, never deleted: its nights and audit stay.
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:bookings_booking_phone"))

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied
        services.booking_update_details(
            booking=obj,
            by=request.user,
            **{name: form.cleaned_data.get(name, "") for name in GUEST_FIELDS},
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except BookingError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.path)

    # --- actions ------------------------------------------------------------

    @admin.action(description=_("Confirm selected holds (guest accepted the policy)"))
    def confirm(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            _("confirmed"),
            lambda b: services.booking_confirm(booking=b, policy_accepted=True, by=request.user),
        )

    @admin.action(description=_("Cancel selected bookings (policy fee applies)"))
    def cancel(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            _("cancelled"),
            lambda b: services.booking_cancel(booking=b, by=request.user, reason="From admin."),
        )

    @admin.action(description=_("Cancel selected bookings and waive the fee"))
    def cancel_waiving_fee(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            _("cancelled without a fee"),
            lambda b: services.booking_cancel(booking=b, by=request.user, waive_fee=True),
        )

    @admin.action(description=_("Check in selected guests"))
    def check_in_guests(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            _("checked in"),
            lambda b: services.booking_check_in(booking=b, by=request.user),
        )

    @admin.action(description=_("Check out selected guests"))
    def check_out_guests(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            _("checked out"),
            lambda b: services.booking_check_out(booking=b, by=request.user),
        )

    @admin.action(description=_("Mark selected bookings as no-shows"))
    def mark_no_show(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            _("marked as no-shows"),
            lambda b: services.booking_mark_no_show(booking=b, by=request.user),
        )

    @admin.action(description=_("Assign a free room to selected bookings"))
    def assign_rooms(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            _("given a room"),
            lambda b: services.booking_assign_room(booking=b, by=request.user),
        )

    # --- extra pages ---------------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "phone/", self.admin_site.admin_view(self.phone_view), name="bookings_booking_phone"
            ),
            path(
                "today/", self.admin_site.admin_view(self.today_view), name="bookings_booking_today"
            ),
            path(
                "report/",
                self.admin_site.admin_view(self.report_view),
                name="bookings_booking_report",
            ),
        ]
        return own + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "phone_url": reverse("admin:bookings_booking_phone"),
            "today_url": reverse("admin:bookings_booking_today"),
            "report_url": reverse("admin:bookings_booking_report"),
        }
        return super().changelist_view(request, extra_context)

    def phone_view(self, request):
        """A booking for a guest on the telephone: hold and confirm through the same services."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PhoneBookingForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            account = (
                get_user_model().objects.filter(email__iexact=data["guest_email"]).order_by("pk")
            )
            try:
                booking = services.booking_hold(
                    room_type=data["room_type"],
                    check_in=data["check_in"],
                    check_out=data["check_out"],
                    adults=data["adults"],
                    children=data["children"],
                    guest=account.first() if len(account[:2]) == 1 else None,
                    by=request.user,
                    source=Booking.Source.ADMIN,
                    idempotency_key=data.get("idempotency_key") or None,
                    guest_name=data["guest_name"],
                    guest_email=data["guest_email"],
                    guest_phone=data["guest_phone"],
                    special_requests=data["special_requests"],
                )
                if booking.status == Booking.Status.HOLD:
                    services.booking_confirm(booking=booking, policy_accepted=True, by=request.user)
            except StayNotAvailable as exc:
                form.add_error(None, str(exc))
            except BookingError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    _("Booking %(ref)s confirmed for %(name)s. Read the reference to the guest.")
                    % {"ref": booking.reference, "name": booking.guest_name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:bookings_booking_change", args=[booking.pk])
                )
        if not form.is_bound:
            import uuid

            form.initial["idempotency_key"] = uuid.uuid4().hex
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Booking by telephone"),
            "form": form,
        }
        return TemplateResponse(request, "admin/bookings/booking/phone.html", context)

    TODAY_OPERATIONS = {
        "check_in": services.booking_check_in,
        "check_out": services.booking_check_out,
        "no_show": services.booking_mark_no_show,
        "assign_room": services.booking_assign_room,
    }

    def today_view(self, request):
        """Arrivals, departures and guests in house at one hotel on one day (its own today)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        hotels = list(
            Hotel.objects.filter(is_active=True).order_by("name").only("pk", "name", "timezone")
        )
        hotel = None
        hotel_id = request.GET.get("hotel") or request.POST.get("hotel")
        if hotel_id and hotel_id.isdecimal():
            hotel = next((h for h in hotels if h.pk == int(hotel_id)), None)
        elif len(hotels) == 1:
            hotel = hotels[0]
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            operation = self.TODAY_OPERATIONS.get(request.POST.get("op", ""))
            booking_id = request.POST.get("booking", "")
            if not booking_id.isdecimal():
                raise Http404(_("No such booking."))
            booking = get_object_or_404(Booking, pk=booking_id)
            if operation is None:
                self.message_user(request, _("Unknown operation."), messages.ERROR)
            else:
                try:
                    operation(booking=booking, by=request.user)
                    self.message_user(
                        request, _("Booking %(ref)s updated.") % {"ref": booking.reference}
                    )
                except BookingError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        day, lists = None, None
        if hotel is not None:
            day = services.hotel_today(hotel)
            try:
                day = (
                    date.fromisoformat(request.GET.get("day", ""))
                    if request.GET.get("day")
                    else day
                )
            except ValueError:
                self.message_user(request, _("Enter the day as YYYY-MM-DD."), messages.ERROR)
            lists = selectors.hotel_day(hotel=hotel, day=day)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Today at %(hotel)s") % {"hotel": hotel.name} if hotel else _("Today"),
            "hotels": hotels,
            "hotel": hotel,
            "day": day,
            "lists": lists,
        }
        return render(request, "admin/bookings/booking/today.html", context)

    def report_view(self, request):
        """Occupancy and revenue of one hotel by month for a year, on the page or as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = OccupancyReportForm(
            request.GET if "hotel" in request.GET or "year" in request.GET else None,
            initial={"year": timezone.localdate().year},
        )
        report = None
        if form.is_valid():
            report = occupancy_report(
                hotel=form.cleaned_data["hotel"], year=form.cleaned_data["year"]
            )
        if report is not None and request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            filename = f"occupancy-{report.hotel.slug}-{report.year}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            csv.writer(response).writerows(occupancy_report_csv_rows(report))
            return response
        title, csv_query = _("Occupancy and revenue"), ""
        if report is not None:
            title = _("Occupancy and revenue of %(hotel)s in %(year)d") % {
                "hotel": report.hotel.name,
                "year": report.year,
            }
            csv_query = urlencode({"hotel": report.hotel.pk, "year": report.year, "format": "csv"})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "report": report,
            "csv_query": csv_query,
        }
        return TemplateResponse(
            request,
            "admin/bookings/booking/report.html",
            context,
            status=400 if form.errors else 200,
        )


@admin.register(BookingEvent)
class BookingEventAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    """The audit trail, read-only: who moved which booking, when, from what to what, and why."""

    list_display = ("at", "booking_link", "from_status", "to_status", "by", "reason")
    list_filter = ("to_status",)
    search_fields = ("=booking__reference", "reason")
    date_hierarchy = "at"
    list_select_related = ("booking", "by")
    ordering = ("-at",)

    @admin.display(description=_("booking"), ordering="booking__reference")
    def booking_link(self, obj: BookingEvent) -> str:
        url = reverse("admin:bookings_booking_change", args=[obj.booking_id])
        return format_html('<a href="{}">{}</a>', url, obj.booking.reference)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
