from django.apps import AppConfig


class HotelConfig(AppConfig):
    name = "hotel"
    verbose_name = "Hotels"

    def ready(self) -> None:
        from . import observability  # noqa: F401  (connects the slow-query wrapper)
