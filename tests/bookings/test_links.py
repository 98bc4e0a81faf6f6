"""Paths and signed links to a booking page."""

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix

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


def test_booking_path_follows_a_change_of_the_root_urlconf(settings):
    reference = new_reference()
    booking_path(reference)  # remembered under config.urls

    settings.ROOT_URLCONF = "tests.bookings.mounted_urls"

    assert booking_path(reference) == f"/stays/{reference}/"
    assert booking_path(reference) == reverse("bookings:detail", kwargs={"reference": reference})


def test_booking_path_of_an_empty_reference_fails_as_reverse_does():
    with pytest.raises(NoReverseMatch):
        reverse("bookings:detail", kwargs={"reference": ""})
    with pytest.raises(NoReverseMatch):
        booking_path("")
