from celery import shared_task

from .services import booking_expire_holds


@shared_task(name="bookings.expire_holds", acks_late=True, ignore_result=True)
def expire_holds_task(limit: int = 500) -> int:
    """Give lapsed holds' nights back; safe to run twice or on several workers at once."""
    return booking_expire_holds(limit=limit)
