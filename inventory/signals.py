"""A room type's base price feeds every nightly price computed from the rules."""

from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from hotel.models import RoomType


@receiver(post_init, sender=RoomType)
def remember_base_price(sender, instance: RoomType, **kwargs) -> None:
    instance._inventory_base_price = instance.__dict__.get("base_price")


@receiver(post_save, sender=RoomType)
def reprice_after_base_price_change(sender, instance: RoomType, created: bool, **kwargs) -> None:
    if created or kwargs.get("raw"):
        return
    if instance.base_price != instance._inventory_base_price:
        from .services import pricing_rules_changed

        pricing_rules_changed(hotel=instance.hotel)
        instance._inventory_base_price = instance.base_price
