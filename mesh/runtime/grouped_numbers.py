"""Whether a column's '.' is a thousands separator rather than a decimal point.

German and French spreadsheets write whole amounts with a '.' between thousands ("2.906" is
2,906 EUR), which is also a plain decimal number (2.906): read as one, every value of 1,000
or more is a thousandth of itself and nothing looks wrong (audit s18 R34 F1). A single value
cannot tell the two apart; a column can. Its '.' groups thousands when every value with a '.'
has exactly three digits after one '.' and one to three before it, not starting with 0 (a
decimal column has values with one, two or four places, below 1, or of 1,000 and more), and
either whole numbers stand beside them ("987" next to "1.062": a tool writing decimals to
three places writes "987.000") or at least :data:`MIN_DOTTED` values have a '.' (one or two
could be decimals by chance). Such a column is not guessed at: the caller refuses it naming
the column, or reads it per the user's explicit choice of decimal mark.

JSON numbers are never ambiguous and are not looked at; nor is anything in exponent form.
Shared by ingestion's generic connector (per batch) and ``liftos ingest`` (per file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["MIN_DOTTED", "THREE_DECIMAL_CURRENCIES", "Grouped", "dot_grouped", "is_grouped"]

# Values with a '.' needed, without whole numbers beside them, to call the '.' a separator.
MIN_DOTTED = 3
# ISO 4217 currencies with three minor digits: an amount in them has three decimals as a rule.
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})

_GROUPED = re.compile(r"-?[1-9]\d{0,2}\.\d{3}", re.ASCII)
_INTEGER = re.compile(r"-?\d+", re.ASCII)
_DOTTED = re.compile(r"-?\d*\.\d+|-?\d+\.", re.ASCII)


@dataclass(frozen=True, slots=True)
class Grouped:
    """The evidence that a column's '.' groups thousands: a value as written, how many values
    have a '.' (each three digits after it), and how many are whole numbers."""

    example: str
    dotted: int
    whole: int

    def why(self, column: str, command: str = "liftos ingest") -> str:
        """What the column looks like and why, naming the fix (``command``'s ``--decimal``)."""
        whole = str(int(self.example.replace(".", "")))
        beside = (
            f", and {self.whole:,} whole number(s) stand beside them"
            if self.whole
            else f" ({self.dotted:,} values)"
        )
        return (
            f"{column} {self.example!r} looks like {whole} written with '.' as a thousands "
            f"separator, not {self.example}: every value of the column with a '.' has exactly "
            f"three digits after it{beside}, as a German or French export of whole amounts "
            "writes them. Nothing of it is guessed: remove the separators, or say what the '.' "
            f"is ({command} --decimal ',' reads '.' as a thousands separator and ',' as the "
            "decimal mark; --decimal '.' reads it as a decimal point)"
        )


def is_grouped(value: Any) -> bool:
    """Whether ``value`` is text of the thousands-separated shape ("2.906")."""
    return type(value) is str and _GROUPED.fullmatch(value) is not None


def dot_grouped(values: Iterable[Any]) -> Grouped | None:
    """The evidence that the column's '.' is a thousands separator, or None when it reads as
    a decimal point (or has no '.')."""
    dotted = whole = 0
    example = ""
    for v in values:
        if type(v) is not str:
            continue
        if _INTEGER.fullmatch(v):
            whole += 1
        elif _DOTTED.fullmatch(v):
            if not _GROUPED.fullmatch(v):
                return None  # one decimal that cannot be grouping decides the column
            dotted += 1
            example = example or v
    if dotted and (whole or dotted >= MIN_DOTTED):
        return Grouped(example, dotted, whole)
    return None
