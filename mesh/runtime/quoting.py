"""Quoting a caller's text in an error message: escaped and clipped (audit R7-F4).

A status message reaches terminals, logs and the CLI, so request text goes into one only
through :func:`shown` (``repr``: control characters and escape codes as ``\\x1b``, at most
``ECHO_LIMIT`` characters with a count of the rest) or, for a list of values,
:func:`shown_all`. Pure: no gRPC.
"""

from __future__ import annotations

from collections.abc import Iterable

from mesh.runtime.exceptions import ECHO_LIMIT, shown

__all__ = ["ECHO_LIMIT", "shown", "shown_all"]

# One value of a list is quoted to at most this many characters, so one long value cannot
# crowd out the others.
_EACH = 60


def shown_all(values: Iterable[object], limit: int = ECHO_LIMIT) -> str:
    """``values`` each quoted by :func:`shown`, comma-separated, at most about ``limit``
    characters; those left out are counted ("… and 12 more")."""
    items = list(values)
    out: list[str] = []
    size = 0
    for value in items:
        text = shown(value, _EACH)
        if out and size + len(text) + 2 > limit:
            break
        out.append(text)
        size += len(text) + 2
    rest = len(items) - len(out)
    return ", ".join(out) + (f" … and {rest:,} more" if rest else "")
