from django.conf import settings
from django.core.checks import Tags, Warning, register

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
