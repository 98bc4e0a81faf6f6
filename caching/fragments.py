"""Rendered template fragments, memoised by the values they show.

    {% load fragments %}
    {% fragment "inventory/_search_result.html" result=card %}

renders the template with its values and nothing else from the page's
context, so its HTML is a function of the template, the values, the active
language, the time zone, the script prefix and the release (its templates and
code: tags build HTML too). It is kept under exactly that
key in a bounded LRU in this process and never needs invalidating: a write
that changes what the fragment shows changes the values it is given, hence
the key.

This is what lets a page survive the availability invalidations of a busy
hotel. A hold bumps its whole hotel's namespace, so the page's data is read
again, but every hotel result whose figures did not move renders from
memory; rendering costs far more than the read.

The values must be hashable and carry everything the template shows: named
tuples, frozen dataclasses, strings, numbers, dates, Decimals. A model
instance is refused, since it hashes by primary key and a renamed room would
render the old name. ``key=...`` names the memo key explicitly when the
values are not hashable (a bound form); the caller then promises that the key
determines everything the fragment shows, and ``key=None`` renders without
the memo. ``form_key()`` keys a whole form, ``{{ field|field_key }}`` one of
its fields, so that a form whose values are mostly common (a search for new
dates) renders only the fields that changed.

What belongs to one request or one form is never kept: a fragment renders
``{% csrf_token %}`` and ``{% idempotency_field %}`` as markers, and every
render, hit or miss, replaces them with this request's CSRF field and a fresh
idempotency key per form.

A fragment that is costly and asked for by many guests can also be kept in
Redis, shared by every process: ``{% fragment "x.html" shared card=card %}``.
Its shared key is a digest of the pickled memo key (pickling is one to one, so
two different values never share a key; an unpicklable value is simply not
shared) and of every template file and the project's Python source, so a release
that changes a template or the code of a tag does not serve the previous one's HTML.
It costs a round trip to Redis on every local miss, so it suits fragments
that hold many others (a hotel's search result), not the
small ones inside them.
A block that renders a list of them looks them up in one round trip, and
keeps the ones it rendered in one more, inside
``with shared_fragments("x.html", [{"card": card} for card in cards]):``.

A view that knows what a whole block depends on can keep it in the two-tier
cache instead, shared by every process and invalidated with its data:
``render_pieces()`` renders it with the markers in, the view caches the pieces
under the data's namespaces (caching.api.cached, keyed on ``conditions()``
too), and ``{% filled pieces %}`` fills them in for the request.
"""

import functools
import pickle
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from hashlib import sha256
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db.models import Model
from django.forms import ModelChoiceField
from django.template import engines
from django.template.defaulttags import CsrfTokenNode
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from . import api, conf, stats

NAMESPACE = "fragments"

# Per process and unguessable, so that no hotel description or guest input
# can contain them; the memo is per process too.
CSRF_MARK = "csrf-" + secrets.token_hex(16)
IDEMPOTENCY_MARK = "idem-" + secrets.token_hex(16)
_IN_FRAGMENT = "_rendering_fragment"
_CSRF_FIELD = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', CSRF_MARK)
# What rendered pieces keep in place of the markers: the markers are this
# process's own, and pieces shared through Redis are filled in by any process.
_CSRF_PIECE = "csrf"
_IDEMPOTENCY_PIECE = "idempotency"
_NO_MEMO = object()


class FragmentMemo:
    """A thread-safe LRU of rendered fragments, bounded in entries and in characters.

    A fragment is kept only from its second render on. Most fragments of a
    search for a stay nobody else asks for are never seen again; kept at once
    they would push the popular stays' fragments out. The keys rendered once
    are remembered by hash only, in a set emptied when it outgrows the memo.
    (A probation segment in front of the LRU did worse on the guest mix: the
    one-off fragments pushed the popular ones out of it before their second
    request.)
    """

    def __init__(
        self,
        max_entries: str = "CACHE_FRAGMENT_MAX_ENTRIES",
        max_size: str = "CACHE_FRAGMENT_MAX_BYTES",
    ) -> None:
        # The names of the settings that bound it, read on every use.
        self._max_entries = max_entries
        self._max_size = max_size
        self._entries: OrderedDict[Any, tuple[str, ...]] = OrderedDict()
        self._size = 0
        self._seen_once: set[int] = set()
        self._lock = threading.Lock()

    def get(self, key) -> tuple[str, ...] | None:
        with self._lock:
            pieces = self._entries.get(key)
            if pieces is not None:
                self._entries.move_to_end(key)
            return pieces

    def set(self, key, pieces: tuple[str, ...]) -> None:
        max_entries = conf.get(self._max_entries)
        max_size = conf.get(self._max_size)
        size = sum(len(p) for p in pieces)
        if max_entries <= 0 or size * 10 > max_size:
            return
        with self._lock:
            digest = hash(key)
            if digest not in self._seen_once:
                if len(self._seen_once) >= 2 * max_entries:
                    self._seen_once.clear()
                self._seen_once.add(digest)
                return
            self._seen_once.discard(digest)
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= sum(len(p) for p in old)
            self._entries[key] = pieces
            self._size += size
            while len(self._entries) > max_entries or self._size > max_size:
                _, evicted = self._entries.popitem(last=False)
                self._size -= sum(len(p) for p in evicted)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._seen_once.clear()
            self._size = 0


memo = FragmentMemo()


def in_fragment(context) -> bool:
    """Whether ``context`` is a fragment being rendered for the memo (per-request values wait)."""
    return bool(context.get(_IN_FRAGMENT))


def idempotency_key(context) -> str:
    """A fresh key for one form, or the marker a memoised fragment stores in its place."""
    # 128 random bits in 32 hex digits, as uuid4().hex gives, at a fifth of its cost.
    return IDEMPOTENCY_MARK if in_fragment(context) else secrets.token_hex(16)


def form_key(form, *depends_on: Any, fields: tuple[str, ...] | None = None):
    """A memo key for a fragment that renders ``form`` (or only its ``fields``), or None.

    A form's HTML follows from its class, its data (bound) or initial values
    (unbound), and whatever its validation and choices read besides:
    ``depends_on`` names those (today's date for a date that may not be in
    the past, the ``catalogue`` version for choices read from the database).
    An unknown dependency (None: Redis did not answer) means no memo.
    """
    if any(value is None for value in depends_on):
        return None
    names = tuple(form.fields) if fields is None else fields
    if form.is_bound:
        getlist = getattr(form.data, "getlist", None)
        state = tuple(
            (
                name,
                tuple(getlist(form.add_prefix(name)))
                if getlist
                else form.data.get(form.add_prefix(name)),
            )
            for name in names
        )
    else:
        state = tuple((name, form.get_initial_for_field(form.fields[name], name)) for name in names)
    return (
        f"{type(form).__module__}.{type(form).__qualname__}",
        form.prefix,
        form.auto_id,
        form.is_bound,
        state,
        depends_on,
    )


def field_key(field):
    """A memo key for a fragment that renders one bound field (label, widget, errors), or None.

    Its HTML follows from what form_key() keys a form on, for this field
    alone, and from its errors. The errors are in the key as the text shown,
    so whatever validation read to produce them (today's date, the other
    fields, the catalogue) is accounted for without being named. A field
    whose choices are read from the database is not memoised: they are not
    in the key.
    """
    if isinstance(field.field, ModelChoiceField):
        return None
    return (*form_key(field.form, fields=(field.name,)), tuple(field.errors))


def _memo_key(template_name: str, values: dict[str, Any]):
    if "key" in values:
        key = values.pop("key")
        if key is None:
            return _NO_MEMO
        parts: Any = ("key", key)
    else:
        for name, value in values.items():
            if isinstance(value, Model):
                raise TypeError(
                    f"fragment {template_name}: {name} is a model instance, which hashes by "
                    "its primary key only; pass the fields the fragment shows."
                )
        parts = tuple(sorted(values.items()))
    # What a template renders beyond its values: words and dates follow the
    # language and the time zone, {% url %} the script prefix. A name written
    # in a template arrives marked safe, a str subclass that pickles apart
    # from the same name given in Python (shared_fragments): made a plain str.
    key = (str.__str__(template_name), *conditions(), parts)
    try:
        hash(key)
    except TypeError as exc:
        raise TypeError(
            f"fragment {template_name}: its values must be hashable (tuples, named tuples, "
            f"frozen dataclasses), or pass key=...: {exc}"
        ) from None
    return key


def _render(template_name: str, values: dict[str, Any]) -> tuple[str, ...]:
    html = get_template(template_name).render(
        {**values, "csrf_token": CSRF_MARK, _IN_FRAGMENT: True}
    )
    return _split_marks(html)


def _split_marks(html: str) -> tuple[str, ...]:
    """The HTML between the markers, and in place of each marker the piece it stands for.

    str.split, not a regular expression over the alternatives: a results
    page is some 50 KB of HTML, in which a pattern starting with ``<`` is
    tried at every tag, about six times slower.
    """
    pieces: list[str] = []
    for i, part in enumerate(html.split(_CSRF_FIELD)):
        if i:
            pieces.append(_CSRF_PIECE)
        first, *rest = part.split(IDEMPOTENCY_MARK)
        pieces.append(first)
        for after in rest:
            pieces += (_IDEMPOTENCY_PIECE, after)
    return tuple(pieces)


def _fill(pieces: tuple[str, ...], context) -> str:
    if len(pieces) == 1:
        return pieces[0]
    out = []
    csrf_field = None
    for i, piece in enumerate(pieces):
        if not i % 2:
            out.append(piece)
        elif piece == _IDEMPOTENCY_PIECE:
            out.append(idempotency_key(context))
        else:
            if csrf_field is None:
                # Exactly what {% csrf_token %} renders in this context: this
                # request's token, or the marker again inside another fragment.
                csrf_field = CsrfTokenNode().render(context)
            out.append(csrf_field)
    return "".join(out)


@functools.cache
def release_digest() -> str:
    """A digest of every template file the engines search and of the project's Python
    source, read once per process."""
    digest = sha256()
    for engine in engines.all():
        for directory in engine.template_dirs:
            for path in sorted(Path(directory).rglob("*.html")):
                digest.update(str(path.relative_to(directory)).encode())
                digest.update(path.read_bytes())
    # Python builds HTML too, whole fragments of it (inventory_tags, with
    # hotel.html's escape and the cards it reads): a release that changes the
    # project's code must not share the previous one's HTML either.
    for app in apps.get_app_configs():
        if Path(app.path).parent == Path(settings.BASE_DIR):
            for path in sorted(Path(app.path).rglob("*.py")):
                digest.update(str(path.relative_to(settings.BASE_DIR)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _shared_key(key) -> str | None:
    try:
        payload = pickle.dumps(key, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    return f"frag:{release_digest()[:16]}:{sha256(payload).hexdigest()}"


class _Batch:
    """The shared fragments of one shared_fragments() block: looked up, and to be kept."""

    __slots__ = ("found", "rendered", "shared_keys")

    def __init__(self, shared_keys: dict[Any, str], found: dict[str, tuple[str, ...]]) -> None:
        # Memo key -> shared key: a shared key pickles and hashes the whole
        # key (about 50 us for a hotel's result), so it is computed once.
        self.shared_keys = shared_keys
        self.found = {shared_key: found.get(shared_key) for shared_key in shared_keys.values()}
        self.rendered: dict[str, tuple[str, ...]] = {}


_batch: ContextVar[_Batch | None] = ContextVar("fragments_batch", default=None)


def _shared_key_of(key) -> str | None:
    batch = _batch.get()
    if batch is not None and key in batch.shared_keys:
        return batch.shared_keys[key]
    return _shared_key(key)


def _shared_get(shared_key: str) -> tuple[str, ...] | None:
    batch = _batch.get()
    if batch is not None and shared_key in batch.found:
        pieces = batch.found[shared_key]
    elif not api.backend_available():
        return None
    else:
        # django-redis answers the default when Redis fails (fail-open).
        pieces = cache.get(shared_key)
    stats.record(NAMESPACE, "shared", "miss" if pieces is None else "hit")
    return pieces


def _shared_set(shared_key: str, pieces: tuple[str, ...]) -> None:
    batch = _batch.get()
    if batch is not None:
        batch.rendered[shared_key] = pieces
    elif api.backend_available():
        cache.set(shared_key, pieces, timeout=conf.get("CACHE_FRAGMENT_SHARED_TTL"))


@contextmanager
def shared_fragments(template_name: str, values_list: Iterable[dict[str, Any]]):
    """Look up the shared fragments of ``values_list`` in one round trip, and keep the ones
    rendered inside the block in one more, as it ends.

    For a block that renders a list of ``{% fragment template_name shared ... %}``
    (a page of search results): one by one, each fragment this process does
    not hold costs a round trip to look it up and another to keep it. The
    fragments are found by their exact keys, so values that the block does
    not render only cost their share of the lookup, and a fragment the block
    renders that is not in ``values_list`` is looked up on its own as before.
    """
    shared_keys = {}
    for values in values_list:
        key = _memo_key(template_name, dict(values))
        if key is not _NO_MEMO and memo.get(key) is None:
            shared_key = _shared_key(key)
            if shared_key:
                shared_keys[key] = shared_key
    if not shared_keys or not api.backend_available():
        yield
        return
    batch = _Batch(shared_keys, cache.get_many(list(shared_keys.values())))
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    if batch.rendered and api.backend_available():
        cache.set_many(batch.rendered, timeout=conf.get("CACHE_FRAGMENT_SHARED_TTL"))


# The layout of rendered pieces: a release that changes how _render marks
# the per-request values changes this, so that no process fills pieces kept
# in Redis by the previous release the new way.
PIECES_FORMAT = "pieces-2"


def conditions() -> tuple[str, ...]:
    """What a rendering depends on beyond its values: the language, time zone and script
    prefix, the release (its templates and code) and the layout of the pieces it is kept as.

    Blocks cached whole (a page of search results, a hotel's options) are keyed on
    them, so a release never serves the previous one's HTML from Redis.
    """
    return (
        translation.get_language(),
        timezone.get_current_timezone_name(),
        get_script_prefix(),
        release_digest()[:16],
        PIECES_FORMAT,
    )


def render_pieces(template_name: str, values: dict[str, Any]) -> tuple[str, ...]:
    """Render ``template_name`` from ``values`` alone, the per-request values left as markers.

    For a caller that keeps the result itself, keyed on ``conditions()`` and
    on everything the values were read from; ``fill()`` it for each request.
    """
    return _render(template_name, values)


def fill(pieces: tuple[str, ...], context) -> SafeString:
    """``render_pieces()``'s result with ``context``'s CSRF field and a fresh key per form."""
    return mark_safe(_fill(pieces, context))  # noqa: S308


def render(
    template_name: str, values: dict[str, Any], context, *, shared: bool = False
) -> SafeString:
    """Render ``template_name`` from ``values`` alone, through the memo; fill in ``context``'s
    per-request values (its CSRF token, a fresh idempotency key per form).

    ``shared`` looks a fragment this process does not hold up in Redis before
    rendering it, and keeps what it renders there.
    """
    values = dict(values)
    key = _memo_key(template_name, values)
    if key is _NO_MEMO:
        return mark_safe(_fill(_render(template_name, values), context))  # noqa: S308
    pieces = memo.get(key)
    if pieces is None:
        stats.record(NAMESPACE, "local", "miss")
        shared_key = _shared_key_of(key) if shared else None
        pieces = _shared_get(shared_key) if shared_key else None
        if pieces is None:
            pieces = _render(template_name, values)
            if shared_key:
                _shared_set(shared_key, pieces)
        memo.set(key, pieces)
    else:
        stats.record(NAMESPACE, "local", "hit")
    # The template engine escaped the values; the markers are plain text.
    return mark_safe(_fill(pieces, context))  # noqa: S308
