"""HTML built in Python for the few blocks a page repeats hundreds of times."""

import html


def escape(value) -> str:
    """Django's conditional_escape, without its check for lazy text on every call.

    For plain values (text, numbers, dates): what is already safe HTML
    (``__html__``) is kept, anything else is escaped as Django's escape does.
    """
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))
