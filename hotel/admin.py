from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext as _

from .admin_mixins import CheckedSelectionMixin
from .models import Amenity, Hotel, Room, RoomType


@admin.register(Amenity)
class AmenityAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class RoomTypeListFilter(admin.RelatedFieldListFilter):
    """Room type choices in one query: a room type's label names its hotel."""

    def field_choices(self, field, request, model_admin):
        room_types = RoomType.objects.select_related("hotel").order_by("hotel__name", "name")
        return [(rt.pk, str(rt)) for rt in room_types]


class RoomTypeInline(admin.TabularInline):
    model = RoomType
    extra = 0
    fields = [
        "name",
        "slug",
        "max_adults",
        "max_children",
        "max_occupancy",
        "base_price",
        "is_active",
    ]
    prepopulated_fields = {"slug": ["name"]}
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("hotel")


class RoomInlineFormSet(BaseInlineFormSet):
    """Rooms added under a room type belong to its hotel; numbers stay unique in the hotel."""

    def clean(self):
        super().clean()
        hotel_id = self.instance.hotel_id
        numbers = {}
        for form in self.forms:
            if not form.has_changed() and not form.instance.pk:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            number = form.cleaned_data.get("number")
            if not number:
                continue
            if number in numbers:
                form.add_error("number", _("Room %(n)s appears twice.") % {"n": number})
            numbers[number] = form.instance.pk
        taken = (
            Room.objects.filter(hotel_id=hotel_id, number__in=numbers)
            .exclude(pk__in=[pk for pk in numbers.values() if pk])
            .values_list("number", flat=True)
        )
        for number in taken:
            raise ValidationError(_("Room %(n)s already exists in this hotel.") % {"n": number})


class RoomInline(admin.TabularInline):
    model = Room
    formset = RoomInlineFormSet
    extra = 0
    fields = ["number", "floor", "is_active", "notes"]
    fk_name = "room_type"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("hotel", "room_type__hotel")


@admin.register(Hotel)
class HotelAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = ["name", "city", "country", "stars", "currency", "room_type_count", "is_active"]
    list_filter = ["is_active", "stars", "city", "country"]
    search_fields = ["name", "city", "address"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["amenities"]
    inlines = [RoomTypeInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "stars", "description", "amenities"]}),
        ("Location and contact", {"fields": ["address", "city", "country", "email", "phone"]}),
        ("Operations", {"fields": ["timezone", "currency", "check_in_time", "check_out_time"]}),
        (
            "Policies",
            {
                "fields": [
                    "free_cancellation_days",
                    "cancellation_fee",
                    "cancellation_fee_percent",
                    "deposit_percent",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_room_types=Count("room_types"))

    @admin.display(description="room types", ordering="_room_types")
    def room_type_count(self, obj: Hotel) -> int:
        return obj._room_types


@admin.register(RoomType)
class RoomTypeAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = ["name", "hotel", "max_occupancy", "base_price", "room_count", "is_active"]
    list_filter = ["is_active", "hotel__city", "hotel"]
    list_select_related = ["hotel"]
    search_fields = ["name", "hotel__name"]
    autocomplete_fields = ["hotel"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["amenities"]
    inlines = [RoomInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_rooms=Count("rooms"))

    def get_readonly_fields(self, request, obj=None):
        # A room type's rooms, nights and bookings are its hotel's: moved to
        # another hotel, they would all belong to two at once.
        return ("hotel",) if obj is not None else ()

    @admin.display(description="rooms", ordering="_rooms")
    def room_count(self, obj: RoomType) -> int:
        return obj._rooms

    def save_formset(self, request, form, formset, change):
        # Rooms added inline belong to the room type's hotel.
        for room in formset.save(commit=False):
            room.hotel_id = form.instance.hotel_id
            room.save()
        for room in formset.deleted_objects:
            room.delete()
        formset.save_m2m()


@admin.register(Room)
class RoomAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = ["number", "hotel", "room_type", "floor", "is_active"]
    list_filter = ["is_active", "hotel", ("room_type", RoomTypeListFilter)]
    # A room type's name shows its hotel's: without room_type__hotel that was a query per row.
    list_select_related = ["hotel", "room_type__hotel"]
    search_fields = ["number", "hotel__name", "room_type__name"]
    autocomplete_fields = ["hotel", "room_type"]

    def get_readonly_fields(self, request, obj=None):
        # A physical room stays in its building; its bookings name that hotel.
        return ("hotel",) if obj is not None else ()
