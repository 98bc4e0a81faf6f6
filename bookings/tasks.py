from celery import shared_task
from django.contrib.auth.forms import PasswordResetForm
from django.urls import get_script_prefix, set_script_prefix

from .services import booking_expire_holds


@shared_task(name="bookings.expire_holds", acks_late=True, ignore_result=True)
def expire_holds_task(limit: int = 500) -> int:
    """Give lapsed holds' nights back; safe to run twice or on several workers at once."""
    return booking_expire_holds(limit=limit)


@shared_task(name="bookings.send_password_reset", acks_late=True, ignore_result=True)
def send_password_reset_task(
    *,
    email: str,
    domain: str,
    use_https: bool,
    subject_template_name: str,
    email_template_name: str,
    script_prefix: str = "/",
) -> None:
    """Mail a reset link to each account with this address; to nobody for an unknown one.

    Queued by PasswordResetView for every address asked for, so that the
    request does the same work whether or not an account has it.
    ``script_prefix`` is the path the site is served under (SCRIPT_NAME): the
    link's {% url %} needs it, and a worker has no request to take it from.
    """
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    previous = get_script_prefix()
    set_script_prefix(script_prefix)
    try:
        form.save(
            domain_override=domain,
            use_https=use_https,
            subject_template_name=subject_template_name,
            email_template_name=email_template_name,
        )
    finally:
        # A worker runs other tasks in this thread; an eager task runs in the request.
        set_script_prefix(previous)
