from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

DEV_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@register(Tags.compatibility, deploy=True)
def check_email_transport(app_configs, **kwargs):
    """Guests' emails would be marked sent and never leave the server."""
    if settings.EMAIL_BACKEND in DEV_BACKENDS:
        return [
            Warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: notifications are marked sent "
                "but reach nobody.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.",
                id="notifications.W001",
            )
        ]
    return []


@register()
def check_notification_settings(app_configs, **kwargs):
    """Settings read from the environment that would break sending, caught at start-up.

    An hour of 24 made every confirmation fail with a server error (the
    reminder's time cannot be built); no attempts fails every message on its
    first passing error; a lease shorter than a task may run lets the sweeper
    hand a send still in progress to a second worker, and the guest gets two.
    """
    errors = []

    def refuse(setting: str, rule: str, number: int) -> None:
        value = getattr(settings, setting)
        errors.append(
            Error(
                f"{setting} is {value}; it must be {rule}.",
                hint=f"Set {setting} in the environment.",
                id=f"notifications.E{number:03d}",
            )
        )

    if not 0 <= settings.NOTIFICATION_REMINDER_HOUR <= 23:
        refuse("NOTIFICATION_REMINDER_HOUR", "between 0 and 23 (the hotel's local hour)", 1)
    if settings.NOTIFICATION_REMINDER_DAYS_BEFORE < 0:
        refuse("NOTIFICATION_REMINDER_DAYS_BEFORE", "0 or more (days before arrival)", 2)
    if settings.NOTIFICATION_MAX_ATTEMPTS < 1:
        refuse("NOTIFICATION_MAX_ATTEMPTS", "at least 1", 3)
    if settings.NOTIFICATION_SENDING_LEASE_SECONDS <= settings.CELERY_TASK_TIME_LIMIT:
        refuse(
            "NOTIFICATION_SENDING_LEASE_SECONDS",
            f"longer than CELERY_TASK_TIME_LIMIT ({settings.CELERY_TASK_TIME_LIMIT} s)",
            4,
        )
    return errors
