"""What the catalogue fragments show, as hashable values (the keys of caching.fragments)."""

from typing import NamedTuple


class CityCard(NamedTuple):
    city: str
    country: str
    hotels: int


def city_cards(cities: list[dict]) -> tuple[CityCard, ...]:
    """The home page's cities (hotel.selectors.cities) as cards."""
    return tuple(CityCard(c["city"], c["country"], c["hotels"]) for c in cities)
