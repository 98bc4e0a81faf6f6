"""A second web process, for tests of what processes share through Redis."""

import secrets

from django.utils.html import format_html

from caching import api, fragments


def become_another_process(monkeypatch) -> None:
    """What another gunicorn worker has: empty memory, markers of its own; the same Redis.

    The markers a rendered block holds for the CSRF field and the idempotency
    key are random per process, so a test that only empties the memory
    would miss a block that another process cannot fill.
    """
    api.reset_process_state()
    csrf_mark = "csrf-" + secrets.token_hex(16)
    idempotency_mark = "idem-" + secrets.token_hex(16)
    csrf_field = format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_mark
    )
    monkeypatch.setattr(fragments, "CSRF_MARK", csrf_mark)
    monkeypatch.setattr(fragments, "IDEMPOTENCY_MARK", idempotency_mark)
    monkeypatch.setattr(fragments, "_CSRF_FIELD", csrf_field)
