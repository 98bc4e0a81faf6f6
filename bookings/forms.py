from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from hotel.forms import StayForm
from hotel.models import Hotel, RoomType
from hotel.selectors import room_type_for_sale

from .reports import FIRST_YEAR, LAST_YEAR


class HoldForm(StayForm):
    """What the search page's "Book" button posts: a room type, the stay and the party."""

    room_type = forms.IntegerField(
        widget=forms.HiddenInput, error_messages={"invalid": _("Choose a room type.")}
    )
    # A fresh random key per rendered form: a second submission of the same
    # form gets the first hold back instead of a second one.
    idempotency_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def clean_room_type(self) -> RoomType:
        try:
            return room_type_for_sale(pk=self.cleaned_data["room_type"])
        except RoomType.DoesNotExist:
            raise forms.ValidationError(_("This room type is not for sale.")) from None

    def clean(self):
        cleaned = super().clean()
        room_type = cleaned.get("room_type")
        adults, children = cleaned.get("adults"), cleaned.get("children") or 0
        if room_type and adults and not room_type.fits(adults=adults, children=children):
            raise forms.ValidationError(
                _("%(room)s sleeps at most %(n)d guests (%(a)d adults, %(c)d children).")
                % {
                    "room": room_type.name,
                    "n": room_type.max_occupancy,
                    "a": room_type.max_adults,
                    "c": room_type.max_children,
                }
            )
        return cleaned


class GuestDetailsForm(forms.Form):
    guest_name = forms.CharField(label=_("Full name"), max_length=200)
    # The column's length: a longer address (forms allow 320) failed the save with a 500.
    guest_email = forms.EmailField(label=_("Email"), max_length=254)
    guest_phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        help_text=_("So the hotel can reach you on the day."),
    )
    special_requests = forms.CharField(
        label=_("Special requests"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The hotel will do its best; requests are not guaranteed."),
    )

    def clean_guest_name(self) -> str:
        name = " ".join(self.cleaned_data["guest_name"].split())
        if not name:
            raise forms.ValidationError(_("Enter the guest's name."))
        return name


class ConfirmForm(forms.Form):
    accept_policy = forms.BooleanField(
        label=_("I accept the cancellation policy."),
        error_messages={"required": _("Accept the cancellation policy to confirm.")},
    )


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)
    # The fee the page showed: the cancellation goes through only at that fee.
    fee = forms.DecimalField(widget=forms.HiddenInput, required=False)


class SignUpForm(UserCreationForm):
    email = forms.EmailField(label=_("Email"))
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email", "first_name", "last_name")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("An account with this email exists already. Log in or reset its password.")
            )
        return email


class PhoneBookingForm(StayForm):
    """Staff taking a booking on the telephone: the same checks as the website, then the guest."""

    room_type = forms.ModelChoiceField(
        queryset=RoomType.objects.filter(is_active=True, hotel__is_active=True).select_related(
            "hotel"
        )
    )
    guest_name = forms.CharField(label=_("Guest's full name"), max_length=200)
    guest_email = forms.EmailField(label=_("Guest's email"), max_length=254)
    guest_phone = forms.CharField(label=_("Guest's phone"), max_length=40)
    special_requests = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    policy_read_out = forms.BooleanField(
        label=_("I read the cancellation policy to the guest and they accepted it."),
        error_messages={"required": _("Read the cancellation policy to the guest first.")},
    )
    idempotency_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def earliest_check_in(self):
        # Staff may book a walk-in for tonight whatever the server's clock says.
        from datetime import timedelta

        return super().earliest_check_in() - timedelta(days=1)

    def clean(self):
        cleaned = super().clean()
        room_type, adults = cleaned.get("room_type"), cleaned.get("adults")
        children = cleaned.get("children") or 0
        if room_type and adults and not room_type.fits(adults=adults, children=children):
            self.add_error(
                "room_type",
                _("%(room)s sleeps at most %(n)d guests.")
                % {"room": room_type.name, "n": room_type.max_occupancy},
            )
        return cleaned


YEAR_RANGE_MESSAGE = format_lazy(
    _("Enter a year from {first} to {last}."), first=FIRST_YEAR, last=LAST_YEAR
)


class OccupancyReportForm(forms.Form):
    """The hotel and the year of the staff occupancy and revenue report."""

    hotel = forms.ModelChoiceField(
        # Inactive hotels too: their past years are still reported on.
        queryset=Hotel.objects.order_by("name", "pk"),
        error_messages={
            "required": _("Choose a hotel."),
            "invalid_choice": _("Choose a hotel from the list."),
        },
    )
    year = forms.IntegerField(
        min_value=FIRST_YEAR,
        max_value=LAST_YEAR,
        error_messages={
            "required": _("Enter a year."),
            "invalid": _("Enter the year as four digits, for example 2026."),
            "min_value": YEAR_RANGE_MESSAGE,
            "max_value": YEAR_RANGE_MESSAGE,
        },
        widget=forms.NumberInput(attrs={"style": "width: 6em"}),
    )
