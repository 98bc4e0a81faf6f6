"""Account abuse: what django-axes counts a failed login under, and the password reset cap.

settings.AXES_USERNAME_CALLABLE and settings.AXES_CLIENT_IP_CALLABLE, and
``password_reset_limited`` for the reset view.
"""

import ipaddress

from axes.conf import settings
from axes.models import AccessAttempt
from django_ratelimit.core import is_ratelimited

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


def axes_client_ip(request) -> str | None:
    """The guest's own address: REMOTE_ADDR, or behind proxies the one they name.

    Without django-ipware (not installed) axes counts REMOTE_ADDR alone, so
    behind a proxy every guest had the proxy's address and anyone anywhere
    could lock any account out. Each of AXES_IPWARE_PROXY_COUNT trusted
    proxies appends the address it was reached from to X-Forwarded-For, so
    the client is that many entries from the right; what the client wrote
    further left is not trusted. With no proxy the header is ignored: anyone
    can send one.
    """
    remote_addr = request.META.get("REMOTE_ADDR")
    proxies = settings.AXES_IPWARE_PROXY_COUNT or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded.strip():
        return remote_addr
    addresses = [address.strip() for address in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote_addr


def password_reset_limited(request, *, email: str) -> bool:
    """Whether a reset request is over the cap for its address or for its client.

    Counts the request under both, whether or not an account has the
    address: the answer then says nothing about who has an account. The
    address is compared without case, as the reset form matches accounts.
    Caps are PASSWORD_RESET_RATE_PER_EMAIL and PASSWORD_RESET_RATE_PER_CLIENT.
    """
    over_for_email = is_ratelimited(
        request,
        group="password-reset:email",
        key=lambda _group, _request: email.strip().casefold(),
        rate=settings.PASSWORD_RESET_RATE_PER_EMAIL,
        increment=True,
    )
    over_for_client = is_ratelimited(
        request,
        group="password-reset:client",
        key=lambda _group, request: _client_network(request),
        rate=settings.PASSWORD_RESET_RATE_PER_CLIENT,
        increment=True,
    )
    return over_for_email or over_for_client


def _client_network(request) -> str:
    """What the per-client reset cap counts under: the client's address, or its IPv6 /64.

    An IPv6 host is given a whole /64 and can send from any address in it, so
    counting full addresses would let one client past the cap at will. An
    IPv4 address mapped into IPv6 counts as that IPv4 address.
    """
    address = axes_client_ip(request) or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)
