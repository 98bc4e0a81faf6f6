import pytest
from django.core.management import CommandError, call_command

from caching.api import _read_version
from tests.factories import HotelFactory


@pytest.mark.django_db
def test_cache_invalidate_all_bumps_every_namespace_of_every_hotel():
    lisbon, porto = HotelFactory(city="Lisbon"), HotelFactory(city="Porto")
    namespaces = [
        "catalogue",
        f"hotel:{lisbon.pk}",
        f"hotel:{porto.pk}",
        f"availability:hotel:{porto.pk}",
        "availability:city:lisbon",
        "availability:city:porto",
    ]
    before = {ns: _read_version(ns) for ns in namespaces}

    call_command("cache_invalidate", "--all")

    assert all(_read_version(ns) > before[ns] for ns in namespaces)


def test_cache_invalidate_bumps_the_named_namespaces_only():
    before = {ns: _read_version(ns) for ns in ("hotel:1", "hotel:2")}

    call_command("cache_invalidate", "hotel:1")

    assert _read_version("hotel:1") > before["hotel:1"]
    assert _read_version("hotel:2") == before["hotel:2"]


def test_cache_invalidate_wants_namespaces_or_all():
    with pytest.raises(CommandError, match="--all"):
        call_command("cache_invalidate")
