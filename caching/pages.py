"""Whole guest pages, rendered once per what they show, for every guest who is not signed in.

A guest page is its data's blocks (each cached, caching.api and
caching.fragments) inside the template engine's work of putting them
together: the page frame, its header and navigation, the forms around the
blocks. That work is the same for every guest who is not signed in and has no
message waiting, and it cost a cached hotel page about a third of its time.

    return render_page(request, "hotel/home.html", context, key=key, max_age=CATALOGUE_TTL)

renders the page as a fragment (caching.fragments): from ``context`` alone,
without the request, its context processors or the signed-in header, the
per-request values (the CSRF field, a fresh idempotency key per form) left as
markers. The pieces are kept in a bounded LRU of this process, from the
second render of a key on, as fragments are, for ``max_age`` at most, and
every response fills in its request's values. The caller's ``key`` must
determine everything the page shows, as a fragment's ``key=`` does: each
cached block by its value (a block's pieces are their own key) or by the
namespace version it was read under, and the request's parameters the page
echoes. ``None`` renders as Django's ``render`` does. So does a request from
a guest who is signed in (the header shows their name) or who has a message
waiting (the page shows and consumes it).

A page rendered this way must not read ``request``, ``user``, ``perms`` or
``messages`` in its templates except where base.html does: they are not in
its context.
"""

from collections.abc import Callable
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.context_processors import csrf

from . import local, stats
from .fragments import FragmentMemo, conditions, fill, render_pieces

NAMESPACE = "pages"

memo = FragmentMemo(max_entries="CACHE_PAGE_MAX_ENTRIES", max_size="CACHE_PAGE_MAX_BYTES")


def render_page(
    request: HttpRequest,
    template_name: str,
    context: dict[str, Any] | Callable[[], dict[str, Any]],
    *,
    key: Any,
    max_age: float,
    status: int = 200,
) -> HttpResponse:
    """``django.shortcuts.render``, from the memo when ``key`` names the page and the
    guest sees what every guest who is not signed in sees.

    ``max_age`` is the TTL of the values ``key`` names by a namespace version:
    were their invalidation lost for good (Redis down as it was sent), the
    page would be served stale no longer than they are. ``context`` may be a
    function that builds it, called only when the page is rendered: a page
    served from the memo then builds no form and reads nothing it shows.
    """
    if key is None or not _as_for_everyone(request):
        return render(request, template_name, _built(context), status=status)
    period = int(local.clock() // max_age)
    memo_key = (template_name, status, *conditions(), period, key)
    pieces = memo.get(memo_key)
    if pieces is None:
        stats.record(NAMESPACE, "local", "miss")
        pieces = render_pieces(template_name, _built(context))
        memo.set(memo_key, pieces)
    else:
        stats.record(NAMESPACE, "local", "hit")
    return HttpResponse(fill(pieces, csrf(request)), status=status)


def _built(context: dict[str, Any] | Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return context() if callable(context) else context


def _as_for_everyone(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or user.is_authenticated:
        return False
    # Loads the messages as base.html's {% if messages %} would, without using them.
    return not get_messages(request)
