from django import forms
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from caching.api import cached
from hotel.forms import SearchForm
from hotel.models import Amenity, RoomType

STAR_CHOICES = [(n, "★" * n) for n in range(5, 0, -1)]


def _largest_room() -> dict:
    return RoomType.objects.filter(is_active=True, hotel__is_active=True).aggregate(
        adults=Max("max_adults"), children=Max("max_children"), guests=Max("max_occupancy")
    )


class InventorySearchForm(SearchForm):
    """The guest search: the home page's fields plus stars and amenities."""

    stars = forms.TypedMultipleChoiceField(
        label=_("Stars"),
        choices=STAR_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Choose stars between 1 and 5.")},
    )
    amenities = forms.ModelMultipleChoiceField(
        label=_("Amenities"),
        queryset=Amenity.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("%(value)s is not an amenity we know.")},
    )

    def clean_amenities(self) -> list[Amenity]:
        # None chosen is an empty queryset, which still compiles a query to
        # iterate; the search page asks this on every request.
        if not self["amenities"].data:
            return []
        return list(self.cleaned_data["amenities"])

    def clean_q(self) -> str:
        q = super().clean_q()
        if not q:
            raise forms.ValidationError(_("Enter a city or a hotel name."))
        return q

    def clean(self):
        cleaned = super().clean()
        adults, children = cleaned.get("adults"), cleaned.get("children") or 0
        if adults:
            largest = cached("catalogue", ["largest-room"], _largest_room, ttl=600)
            if largest["guests"] is not None and (
                adults > largest["adults"]
                or children > largest["children"]
                or adults + children > largest["guests"]
            ):
                self.add_error(
                    None,
                    _(
                        "No room takes %(adults)d adults and %(children)d children: the largest "
                        "sleep %(guests)d (at most %(max_adults)d adults). Try booking two rooms."
                    )
                    % {
                        "adults": adults,
                        "children": children,
                        "guests": largest["guests"],
                        "max_adults": largest["adults"],
                    },
                )
        return cleaned
