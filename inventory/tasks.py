from celery import shared_task

from .services import inventory_keep_window


@shared_task(name="inventory.keep_window", acks_late=True)
def inventory_keep_window_task() -> int:
    """Generate the nights that the rolling window now reaches; safe to run twice."""
    return inventory_keep_window()
