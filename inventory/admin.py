from datetime import date, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from hotel.admin import RoomTypeListFilter
from hotel.admin_mixins import CheckedSelectionMixin
from hotel.models import Hotel

from .admin_forms import BulkEditForm, RoomInventoryForm
from .exceptions import InventoryError
from .models import OccupancySupplement, RoomInventory, Season, SpecialDay, WeekdayRule
from .selectors import hotel_calendar
from .services import (
    UNCHANGED,
    inventory_set,
    occupancy_supplement_changed,
    pricing_rules_changed,
)

CALENDAR_WEEKS = (2, 4)


@admin.register(RoomInventory)
class RoomInventoryAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    form = RoomInventoryForm
    list_display = [
        "date",
        "room_type",
        "hotel",
        "total",
        "sold",
        "free",
        "price",
        "price_overridden",
        "min_stay",
        "closed_to_arrival",
        "closed_to_departure",
        "stop_sell",
    ]
    list_filter = [
        ("room_type__hotel", admin.RelatedOnlyFieldListFilter),
        ("room_type", RoomTypeListFilter),
        ("date", admin.DateFieldListFilter),
        "stop_sell",
        "closed_to_arrival",
        "price_overridden",
    ]
    date_hierarchy = "date"
    list_select_related = ["room_type__hotel"]
    search_fields = ["room_type__name", "room_type__hotel__name"]
    readonly_fields = ["room_type", "date", "sold", "price_overridden", "updated_at"]
    fields = [
        "room_type",
        "date",
        "sold",
        "total",
        "price",
        "price_overridden",
        "min_stay",
        "max_stay",
        "closed_to_arrival",
        "closed_to_departure",
        "stop_sell",
        "updated_at",
    ]
    list_per_page = 100
    change_list_template = "admin/inventory/roominventory/change_list.html"

    @admin.display(description=_("hotel"), ordering="room_type__hotel__name")
    def hotel(self, obj: RoomInventory) -> Hotel:
        return obj.room_type.hotel

    @admin.display(description=_("free"))
    def free(self, obj: RoomInventory) -> int:
        return obj.free

    def has_add_permission(self, request) -> bool:
        # Nights are generated (inventory_generate), never typed in one by one.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # A deleted night makes every stay over it unbookable and loses its sold count.
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changes:
            return
        try:
            inventory_set(
                room_type=obj.room_type,
                start=obj.date,
                end=obj.date + timedelta(days=1),
                **{name: changes.get(name, UNCHANGED) for name in RoomInventoryForm.Meta.fields},
            )
        except InventoryError as exc:
            messages.error(request, str(exc))

    def get_urls(self):
        own = [
            path(
                "calendar/",
                self.admin_site.admin_view(self.calendar_view),
                name="inventory_roominventory_calendar",
            ),
            path(
                "bulk-edit/",
                self.admin_site.admin_view(self.bulk_edit_view),
                name="inventory_roominventory_bulk_edit",
            ),
        ]
        return own + super().get_urls()

    def calendar_view(self, request):
        """Room types by dates for one hotel: free/total and price, coloured by occupancy."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        hotels = list(
            Hotel.objects.order_by("name").only("pk", "name", "city", "currency", "timezone")
        )
        hotel = next((h for h in hotels if str(h.pk) == request.GET.get("hotel")), None)
        hotel = hotel or (hotels[0] if hotels else None)
        # The hotel's own today: its nights are dates in its time zone, and
        # the server's (UTC) date is yesterday or tomorrow there for hours a day.
        today = timezone.localdate(timezone=hotel.tzinfo) if hotel else timezone.localdate()
        try:
            start = date.fromisoformat(request.GET.get("start", ""))
        except ValueError:
            start = today
        try:
            weeks = int(request.GET.get("weeks", 2))
        except ValueError:
            weeks = 2
        weeks = weeks if weeks in CALENDAR_WEEKS else 2
        # The previous and next links step a page either way; a start at the
        # ends of the calendar would overflow date arithmetic.
        if (
            not date.min + timedelta(days=7 * weeks)
            <= start
            <= date.max - timedelta(days=14 * weeks)
        ):
            start = today
        calendar = hotel_calendar(hotel=hotel, start=start, days=7 * weeks) if hotel else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Availability calendar"),
            "hotels": hotels,
            "hotel": hotel,
            "calendar": calendar,
            "weeks": weeks,
            "week_choices": CALENDAR_WEEKS,
            "previous": start - timedelta(days=7 * weeks),
            "next": start + timedelta(days=7 * weeks),
            "today": today,
        }
        return TemplateResponse(request, "admin/inventory/calendar.html", context)

    def bulk_edit_view(self, request):
        """Change many nights at once through inventory_set; a refusal writes nothing."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        hotel_id = request.GET.get("hotel", "")
        hotel = Hotel.objects.filter(pk=hotel_id).first() if hotel_id.isdecimal() else None
        # Tonight at the hotel: the server's UTC date is its tomorrow or
        # yesterday for hours a day, and a stop-sell for tonight must be tonight.
        today = timezone.localdate(timezone=hotel.tzinfo) if hotel else timezone.localdate()
        initial = {"start": today, "last": today}
        if hotel_id:
            initial["hotel"] = hotel_id
        form = BulkEditForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                changed = inventory_set(**form.service_kwargs())
            except InventoryError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request, _("%(n)d nights updated.") % {"n": changed}, messages.SUCCESS
                )
                hotel = form.cleaned_data["hotel"]
                url = reverse("admin:inventory_roominventory_calendar")
                return redirect(
                    f"{url}?hotel={hotel.pk}&start={form.cleaned_data['start'].isoformat()}"
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Bulk edit inventory"),
            "form": form,
        }
        return TemplateResponse(
            request, "admin/inventory/bulk_edit.html", context, status=400 if form.errors else 200
        )


class PriceRuleAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    """Saving or deleting a rule reprices the nights it touches, in the same transaction."""

    list_select_related = ["hotel", "room_type"]
    list_filter = [("hotel", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "hotel__name"]
    autocomplete_fields = ["hotel"]

    def _span(self, obj) -> tuple[date | None, date | None]:
        start = getattr(obj, "start_date", None)
        end = getattr(obj, "end_date", None)
        # A rule running to the calendar's last day has no day after it: it
        # reprices to the end of the window, as one without an end does.
        return start, (end + timedelta(days=1)) if end and end < date.max else None

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        before = type(obj).objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        changed = self._reprice(obj)
        if before is not None:
            changed += self._reprice(before)
        self.message_user(request, _("%(n)d nights repriced.") % {"n": changed})

    @transaction.atomic
    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._reprice(obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        rules = list(queryset)
        super().delete_queryset(request, queryset)
        for rule in rules:
            self._reprice(rule)

    def _reprice(self, rule) -> int:
        start, end = self._span(rule)
        return pricing_rules_changed(hotel=rule.hotel, start=start, end=end)


class DateRangeRuleAdmin(PriceRuleAdmin):
    list_display = [
        "name",
        "hotel",
        "room_type",
        "start_date",
        "end_date",
        "adjustment",
        "value",
        "priority",
    ]
    date_hierarchy = "start_date"


admin.site.register(Season, DateRangeRuleAdmin)
admin.site.register(SpecialDay, DateRangeRuleAdmin)


@admin.register(WeekdayRule)
class WeekdayRuleAdmin(PriceRuleAdmin):
    list_display = ["name", "hotel", "room_type", "days", "adjustment", "value", "priority"]

    @admin.display(description=_("weekdays"))
    def days(self, obj: WeekdayRule) -> str:
        names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
        return ", ".join(names[i] for i in sorted(obj.weekdays))


@admin.register(OccupancySupplement)
class OccupancySupplementAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = ["room_type", "extra_adult", "extra_child"]
    list_select_related = ["room_type__hotel"]
    search_fields = ["room_type__name", "room_type__hotel__name"]
    autocomplete_fields = ["room_type"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        occupancy_supplement_changed(room_type=obj.room_type)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        occupancy_supplement_changed(room_type=obj.room_type)
