"""Signed links to a booking page, for guests without an account (the confirmation email).

The token is the booking's reference signed with SECRET_KEY under a salt of
its own, so it opens that booking and nothing else, and a changed character
anywhere makes it worthless. It does not expire: a guest opens the email
weeks later to check the dates or cancel.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "bookings.booking-link"


def booking_token(reference: str) -> str:
    """``REFERENCE:signature``: the same token every time, so every email carries one link."""
    return signing.Signer(salt=SALT).sign(reference)


def reference_from_token(token: str) -> str | None:
    """The reference a token was signed for, or None when it was tampered with."""
    try:
        return signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None


def booking_signed_path(booking) -> str:
    """The path of the booking page that opens with no login, e.g. for an email."""
    return reverse("bookings:signed", kwargs={"token": booking_token(booking.reference)})


def booking_signed_url(booking) -> str:
    """The absolute signed link, built on SITE_URL, for emails."""
    return settings.SITE_URL.rstrip("/") + booking_signed_path(booking)
