"""The username django-axes counts a failed login under (settings.AXES_USERNAME_CALLABLE)."""

from axes.conf import settings
from axes.models import AccessAttempt

USERNAME_MAX_LENGTH = AccessAttempt._meta.get_field("username").max_length


def axes_username(request, credentials: dict | None = None) -> str | None:
    """What axes would take by default, cut to the length of its tables' username column.

    The login form hands any username to authenticate(), whatever its length;
    axes stores it as given, and one longer than its column (automated scans
    send them) failed the insert, so the login page answered 500
    (jazzband/django-axes#1381). No account has so long a name, so the cut
    one counts the same failures.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    return username[:USERNAME_MAX_LENGTH] if isinstance(username, str) else username
