"""Requests no page can answer, refused before any view runs."""

from django.core.exceptions import BadRequest

NUL = "\x00"


def reject_nul_characters(get_response):
    """Answer 400 to a NUL character in the path, the query string or a posted form.

    PostgreSQL text cannot hold one, so a value that reaches a query with it
    fails there (a 500): an admin list filter or search, a reference in a
    URL. Django's form fields already refuse it with a message; what a view
    or the admin reads straight from the request does not, and no browser
    sends one unless someone typed ``%00`` on purpose.
    """

    def middleware(request):
        if (
            NUL in request.path_info
            or _has_nul(request.GET)
            or (request.method == "POST" and _has_nul(request.POST))
        ):
            raise BadRequest("The request contains a NUL character.")
        return get_response(request)

    return middleware


def _has_nul(data) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())
