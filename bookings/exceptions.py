"""Errors the booking services raise; every message is written for the person who sees it."""

from datetime import date

from django.utils.translation import gettext as _


class BookingError(Exception):
    """A booking change the rules refuse."""


class IllegalTransition(BookingError):
    """The booking's status does not allow this change (checking in a cancelled booking)."""


class StayNotAvailable(BookingError):
    """Some nights of the stay have no room of this type left."""

    def __init__(self, nights: list[date]):
        self.nights = sorted(nights)
        super().__init__(
            _("No room of this type is left on %(nights)s.")
            % {"nights": ", ".join(f"{n:%a %d %b %Y}" for n in self.nights)}
        )


class HoldExpired(BookingError):
    """The hold lapsed before it was confirmed; its nights went back on sale."""

    def __init__(self, reference: str):
        self.reference = reference
        super().__init__(
            _("Your hold on booking %(ref)s has expired and the room was released.")
            % {"ref": reference}
        )


class RoomUnavailable(BookingError):
    """The room chosen for a booking cannot take it."""


class FeeChanged(BookingError):
    """The cancellation fee is no longer the one the guest was shown (the free period ended)."""

    def __init__(self, fee):
        self.fee = fee
        super().__init__(
            _(
                "The free cancellation period has ended since this page was shown; "
                "see the fee below."
            )
        )
