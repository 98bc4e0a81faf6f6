from datetime import date, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from hotel.models import Hotel, RoomType

from .exceptions import InventoryError
from .models import RoomInventory
from .services import MAX_EDIT_NIGHTS, inventory_price_check

WEEKDAY_CHOICES = [
    (0, _("Mon")),
    (1, _("Tue")),
    (2, _("Wed")),
    (3, _("Thu")),
    (4, _("Fri")),
    (5, _("Sat")),
    (6, _("Sun")),
]
TRI_STATE = [("", _("Leave as is")), ("yes", _("Yes")), ("no", _("No"))]


class BulkEditForm(forms.Form):
    """The staff bulk edit: it parses; inventory_set decides and refuses."""

    hotel = forms.ModelChoiceField(queryset=Hotel.objects.order_by("name"))
    room_types = forms.ModelMultipleChoiceField(
        queryset=RoomType.objects.select_related("hotel").order_by("hotel__name", "sort_order"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Room types of the chosen hotel."),
    )
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=_("To (included)"), widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave empty for every day."),
    )
    # Upper bounds: the columns' ranges on PostgreSQL (integer, smallint).
    total = forms.IntegerField(
        label=_("Rooms for sale"), min_value=0, max_value=2_147_483_647, required=False
    )
    price = forms.DecimalField(
        label=_("Price"), min_value=0, max_digits=10, decimal_places=2, required=False
    )
    price_from_rules = forms.BooleanField(label=_("Back to the rule price"), required=False)
    min_stay = forms.IntegerField(
        label=_("Minimum stay"), min_value=1, max_value=32767, required=False
    )
    max_stay = forms.IntegerField(
        label=_("Maximum stay"), min_value=1, max_value=32767, required=False
    )
    clear_max_stay = forms.BooleanField(label=_("Remove the maximum stay"), required=False)
    closed_to_arrival = forms.ChoiceField(choices=TRI_STATE, required=False)
    closed_to_departure = forms.ChoiceField(choices=TRI_STATE, required=False)
    stop_sell = forms.ChoiceField(choices=TRI_STATE, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Offer the chosen hotel's room types only: a chain's every room type
        # is a list without end, and those of other hotels are refused anyway.
        hotel = self.data.get("hotel") if self.is_bound else self.initial.get("hotel")
        if str(hotel or "").isdecimal():
            field = self.fields["room_types"]
            field.queryset = field.queryset.filter(hotel_id=int(hotel))

    def clean(self):
        cleaned = super().clean()
        hotel, room_types = cleaned.get("hotel"), cleaned.get("room_types")
        if hotel and room_types and any(rt.hotel_id != hotel.pk for rt in room_types):
            self.add_error(
                "room_types", _("Choose room types of %(hotel)s only.") % {"hotel": hotel}
            )
        start, last = cleaned.get("start"), cleaned.get("last")
        if start and last:
            if last >= date.max:
                self.add_error("last", _("Enter a real last day."))
            elif last < start:
                self.add_error("last", _("The last day must not be before the first."))
            elif (last - start).days >= MAX_EDIT_NIGHTS:
                self.add_error(
                    "last", _("Edit at most %(n)d days at once.") % {"n": MAX_EDIT_NIGHTS}
                )
        if cleaned.get("max_stay") and cleaned.get("clear_max_stay"):
            self.add_error("clear_max_stay", _("Either set a maximum stay or remove it."))
        return cleaned

    def service_kwargs(self) -> dict:
        """The arguments for inventory_set: only what staff asked to change."""
        data = self.cleaned_data
        kwargs = {
            "room_types": list(data["room_types"]),
            "start": data["start"],
            "end": data["last"] + timedelta(days=1),
            "weekdays": data["weekdays"] or None,
            "price_from_rules": data["price_from_rules"],
        }
        for name in ("total", "price", "min_stay", "max_stay"):
            if data.get(name) is not None:
                kwargs[name] = data[name]
        if data.get("clear_max_stay"):
            kwargs["max_stay"] = None
        for name in ("closed_to_arrival", "closed_to_departure", "stop_sell"):
            if data.get(name):
                kwargs[name] = data[name] == "yes"
        return kwargs


class RoomInventoryForm(forms.ModelForm):
    """One night edited in the admin; the total may not drop below the rooms sold."""

    class Meta:
        model = RoomInventory
        fields = [
            "total",
            "price",
            "min_stay",
            "max_stay",
            "closed_to_arrival",
            "closed_to_departure",
            "stop_sell",
        ]

    def clean_total(self):
        total = self.cleaned_data["total"]
        # Read sold afresh: a booking may have taken a room since the page loaded.
        sold = (
            RoomInventory.objects.filter(pk=self.instance.pk).values_list("sold", flat=True).first()
        )
        if sold is not None and total is not None and total < sold:
            raise forms.ValidationError(
                _("%(sold)d rooms are already sold on this night; the total cannot be lower.")
                % {"sold": sold}
            )
        return total

    def clean_price(self):
        price = self.cleaned_data["price"]
        if price is not None:
            # Here rather than only in inventory_set, which save_model calls
            # too late to show a refusal on the form.
            try:
                inventory_price_check(price=price, currency=self.instance.room_type.hotel.currency)
            except InventoryError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return price
