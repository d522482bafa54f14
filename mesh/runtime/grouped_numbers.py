"""Whether a column's '.' is a thousands separator rather than a decimal point.

German and French spreadsheets write whole amounts with a '.' between thousands ("2.906" is
2,906 EUR), which is also a plain decimal number (2.906): read as one, every value of 1,000
or more is a thousandth of itself and nothing looks wrong (audit s18 R34 F1). A single value
cannot tell the two apart, and neither can a column of them: a US export written to three
places ("412.500", "%.3f", Excel's "0.000") or linear attribution's thirds ("1.333" beside
"3") looks the same (s18 V1 F4). So the '.' is called a separator only on proof: a value
that no decimal number is ("1.234.567", or "1.234,56" with a '.' and a ',') in a column
whose other dotted values all have the grouped shape; the caller refuses such a column naming
it and the fix. A column whose every value with a '.' has exactly three digits after one '.'
and one to three before it, not starting with 0, with whole numbers beside or at least
:data:`MIN_DOTTED` such values, is ambiguous: it is read as decimals, and the caller says so
loudly, naming the column and the fix (:meth:`Grouped.doubt`). One value with another number
of places ("12.5") shows the '.' to be a decimal point: nothing is said.

JSON numbers are never ambiguous and are not looked at; nor is anything in exponent form.
Shared by ingestion's generic connector (per batch), ``liftos ingest`` (per file), ``liftos
estimate`` and the SDK's ``sum_rows``.
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
# No decimal number: groups of three twice or more, or groups then a decimal comma.
_SURELY = re.compile(r"-?[1-9]\d{0,2}(?:(?:\.\d{3}){2,}(?:,\d+)?|\.\d{3},\d+)", re.ASCII)
_INTEGER = re.compile(r"-?\d+", re.ASCII)
_DOTTED = re.compile(r"-?\d*\.\d+|-?\d+\.", re.ASCII)


@dataclass(frozen=True, slots=True)
class Grouped:
    """What a column's '.' looks like: a value as written, how many values have one '.'
    (each three digits after it), how many are whole numbers, and ``certain``: a value
    such as "1.234.567" or "1.234,56" proves the '.' groups thousands (the caller refuses
    the column). Without proof the column is ambiguous: read as decimals, said loudly."""

    example: str
    dotted: int
    whole: int
    certain: bool = False

    def why(self, column: str, command: str = "liftos ingest") -> str:
        """What the column looks like and why, naming the fix (``command``'s ``--decimal``)."""
        if self.certain:
            return (
                f"{column} {self.example!r} is written with '.' as a thousands separator "
                f"(as {_read(self.example)}), so the column's other dotted values are whole "
                "thousands too, not decimals. Nothing of it is guessed: remove the separators, "
                f"or say what the '.' is ({command} --decimal ',' reads '.' as a thousands "
                "separator and ',' as the decimal mark)"
            )
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

    def doubt(self, column: str, command: str = "liftos ingest", resend: str = "") -> str:
        """The warning for an ambiguous column read as decimals: what was read, and the fix
        if the '.' groups thousands after all (``command`` with --decimal ',' and
        ``resend``, e.g. the later pull time that lets a re-send restate stored rows)."""
        return (
            f"{column}: every value with a '.' has exactly three digits after it "
            f"({self.dotted:,} values, e.g. {self.example!r}), so they were read as decimals. "
            f"If '.' groups thousands here (a German or French export: {self.example!r} "
            f"meaning {int(self.example.replace('.', '')):,}), run {command} again with "
            f"--decimal ','{resend}"
        )


def _read(value: str) -> str:
    """A surely grouped value as the number it writes ("1.234,56" → "1,234.56")."""
    whole, _, fraction = value.partition(",")
    return f"{int(whole.replace('.', '')):,}" + (f".{fraction}" if fraction else "")


def is_grouped(value: Any) -> bool:
    """Whether ``value`` is text of a thousands-separated shape ("2.906", "1.234.567",
    "1.234,56")."""
    return type(value) is str and (
        _GROUPED.fullmatch(value) is not None or _SURELY.fullmatch(value) is not None
    )


def dot_grouped(values: Iterable[Any]) -> Grouped | None:
    """What the column's '.' looks like: proof that it groups thousands (``certain``), an
    ambiguous column (read as decimals), or None when it reads as a decimal point (or the
    column has no '.')."""
    dotted = whole = 0
    example = proof = ""
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
        elif not proof and _SURELY.fullmatch(v):
            proof = v
    if proof:
        return Grouped(proof, dotted, whole, certain=True)
    if dotted and (whole or dotted >= MIN_DOTTED):
        return Grouped(example, dotted, whole)
    return None
