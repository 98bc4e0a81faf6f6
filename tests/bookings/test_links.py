"""Paths and signed links to a booking page."""

import pytest
from django.urls import reverse, set_script_prefix

from bookings.models import booking_path, new_reference


@pytest.mark.parametrize("reference", [new_reference(), "AB CD?%é", "lower-case"])
def test_booking_path_is_the_path_reverse_gives(reference):
    assert booking_path(reference) == reverse("bookings:detail", kwargs={"reference": reference})


def test_booking_path_follows_the_prefix_the_site_is_mounted_under():
    reference = new_reference()
    set_script_prefix("/stays/")
    try:
        mounted = booking_path(reference)
    finally:
        set_script_prefix("/")
    assert mounted == f"/stays{reverse('bookings:detail', kwargs={'reference': reference})}"
    assert booking_path(reference) == reverse("bookings:detail", kwargs={"reference": reference})
