from datetime import date

from django.utils.translation import gettext as _


class InventoryError(Exception):
    """An inventory write that the rules refuse; the message is for people."""


class SoldOut(InventoryError):
    """Some nights of a stay have no room left, are stop-sold, or have no inventory."""

    def __init__(self, nights: list[date]):
        self.nights = sorted(nights)
        super().__init__(
            _("No room is left on %(nights)s.")
            % {"nights": ", ".join(f"{n:%a %d %b %Y}" for n in self.nights)}
        )


class StayRestricted(InventoryError):
    """The stay breaks a restriction staff set on its nights (minimum stay, closed to arrival)."""
