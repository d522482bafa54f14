"""A number written as text with a named decimal mark: ``liftos ingest --decimal``'s rule
(a CSV's measures, and since s18 a JSON file's) and the SDK's ``LiftOS.ingest(decimal=...)``.

One rule for both: the SDK may not import the CLI, and a copy of it in each drifted (s18 V1
F10: the CLI learnt Swiss "1'234.50" under '.', the SDK's copy did not). The other mark, a
space (either no-break one, as French writes it) or an apostrophe (Swiss) groups thousands in
threes, one kind per value; "1'234,567.5" and "12 34.5" are not read.
"""

from __future__ import annotations

import re

__all__ = ["DECIMAL_MARKS", "EXAMPLE", "number"]

DECIMAL_MARKS = (".", ",")
# Under ',': groups of three after '.', a space, a no-break or narrow no-break space or an
# apostrophe; a ',' and digits after. Under '.': groups after ',', a space or an apostrophe.
_COMMA_DECIMAL = re.compile(r"-?(?:\d{1,3}(?:([. \u00a0\u202f'])\d{3})?(?:\1\d{3})*|\d+)(?:,\d+)?")
_POINT_DECIMAL = re.compile(r"-?(?:\d{1,3}([, \u00a0\u202f'])\d{3}(?:\1\d{3})*|\d+)(?:\.\d+)?")
_GROUPING = re.compile(r"[. \u00a0\u202f',]")
# What each mark reads, for a refusal to show
EXAMPLE = {",": "1234,56, 1.234,56 or 1 234,56", ".": "1234.56, 1,234.56 or 1'234.56"}


def number(value: str, decimal: str) -> int | float | None:
    """``value`` read with ``decimal`` (',' or '.') as its decimal mark, or None where the
    rule does not read it; a value without a fraction is an int."""
    comma = decimal == ","
    if (_COMMA_DECIMAL if comma else _POINT_DECIMAL).fullmatch(value) is None:
        return None
    whole, _, fraction = value.partition("," if comma else ".")
    digits = _GROUPING.sub("", whole)
    return float(f"{digits}.{fraction}") if fraction else int(digits)
