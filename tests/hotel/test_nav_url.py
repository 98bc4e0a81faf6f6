import pytest
from django.template import Context, Template
from django.urls import clear_script_prefix, reverse, set_script_prefix

NAMES = ["hotel:home", "hotel:list", "bookings:mine", "admin:index", "login", "logout", "signup"]


def _nav_url(name: str) -> str:
    return Template(f"{{% load hotel_tags %}}{{% nav_url '{name}' %}}").render(Context())


@pytest.mark.parametrize("name", NAMES)
def test_nav_url_is_what_url_gives_under_each_script_prefix(name):
    try:
        for prefix in ("/", "/hotel/", "/other/"):
            set_script_prefix(prefix)
            assert _nav_url(name) == reverse(name)
            assert _nav_url(name).startswith(prefix)
    finally:
        clear_script_prefix()


def test_nav_url_follows_the_urlconf_in_force(settings):
    assert _nav_url("hotel:home") == "/"
    settings.ROOT_URLCONF = "tests.hotel.urls_mounted"
    assert _nav_url("hotel:home") == "/stay/"


def _static_url(path: str) -> str:
    return Template(f"{{% load hotel_tags %}}{{% static_url '{path}' %}}").render(Context())


def test_static_url_is_what_static_gives_and_follows_a_change_of_settings():
    from django.templatetags.static import static
    from django.test import override_settings

    assert _static_url("css/site.css") == static("css/site.css")
    with override_settings(STATIC_URL="/assets/"):
        assert _static_url("css/site.css") == static("css/site.css") == "/assets/css/site.css"
    assert _static_url("css/site.css") == static("css/site.css")
    assert _static_url("a b&c.css") == static("a b&c.css").replace("&", "&amp;")
