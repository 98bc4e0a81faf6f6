from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_GUESTS_PER_FIELD = 12


class StayForm(forms.Form):
    """Dates and party of a stay: shared by search, availability and booking forms.

    Bad input is refused with a message a guest understands: dates that do not
    parse, a check-out not after the check-in, a check-in in the past, a stay
    over BOOKING_MAX_NIGHTS nights, no adults, negative counts.
    """

    check_in = forms.DateField(
        label=_("Check-in"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter the check-in date as YYYY-MM-DD.")},
    )
    check_out = forms.DateField(
        label=_("Check-out"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter the check-out date as YYYY-MM-DD.")},
    )
    adults = forms.IntegerField(
        label=_("Adults"),
        initial=2,
        min_value=1,
        max_value=MAX_GUESTS_PER_FIELD,
        error_messages={
            "min_value": _("At least one adult must stay."),
            "invalid": _("Enter the number of adults as a whole number."),
        },
    )
    children = forms.IntegerField(
        label=_("Children"),
        initial=0,
        min_value=0,
        max_value=MAX_GUESTS_PER_FIELD,
        required=False,
        error_messages={
            "min_value": _("The number of children cannot be negative."),
            "invalid": _("Enter the number of children as a whole number."),
        },
    )

    # The earliest check-in a guest may ask for. A hotel's "today" depends on
    # its time zone; a day of slack lets a guest east of UTC book tonight.
    def earliest_check_in(self) -> date:
        return timezone.now().date() - timedelta(days=1)

    def clean_children(self) -> int:
        return self.cleaned_data.get("children") or 0

    def clean(self):
        cleaned = super().clean()
        check_in, check_out = cleaned.get("check_in"), cleaned.get("check_out")
        if check_in and check_out:
            max_nights = settings.BOOKING_MAX_NIGHTS
            if check_out <= check_in:
                self.add_error("check_out", _("Check-out must be after check-in."))
            elif (check_out - check_in).days > max_nights:
                self.add_error(
                    "check_out",
                    _("A stay can be at most %(n)d nights.") % {"n": max_nights},
                )
            if check_in < self.earliest_check_in():
                self.add_error("check_in", _("Check-in cannot be in the past."))
        return cleaned

    @property
    def nights(self) -> int:
        return (self.cleaned_data["check_out"] - self.cleaned_data["check_in"]).days


class SearchForm(StayForm):
    """The home page's search: a city or hotel name, dates and party."""

    SORT_CHOICES = [
        ("price", _("Price, lowest first")),
        ("-price", _("Price, highest first")),
        ("-stars", _("Stars, most first")),
        ("name", _("Name")),
    ]

    q = forms.CharField(
        label=_("City or hotel"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Lisbon, Porto, …")}),
    )
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORT_CHOICES, required=False)

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data.get("q", "").split())

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") or "price"


class HotelListForm(forms.Form):
    """Filters and sort of the hotel list; anything unknown falls back to no filter."""

    SORT_CHOICES = [
        ("name", _("Name")),
        ("price", _("Price, lowest first")),
        ("-price", _("Price, highest first")),
        ("-stars", _("Stars, most first")),
        ("stars", _("Stars, fewest first")),
    ]
    STAR_CHOICES = [("", _("Any")), *[(str(n), f"{n}★ or more") for n in range(1, 6)]]

    city = forms.CharField(label=_("City"), max_length=100, required=False)
    stars = forms.TypedChoiceField(
        label=_("Stars"), choices=STAR_CHOICES, coerce=int, empty_value=None, required=False
    )
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORT_CHOICES, required=False)

    def clean_city(self) -> str:
        return " ".join(self.cleaned_data.get("city", "").split())

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") or "name"
