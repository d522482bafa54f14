"""A mapped source's measure cells written as text, read as ``liftos ingest`` reads a CSV's:
by the decimal mark the caller names (``LiftOS.ingest(decimal=...)``), and, with none named,
refused where a column's '.' is evidently a thousands separator and the rows are to be summed.

``sum_rows=True`` adds each key's rows into one before anything is sent, so the ingestion
service never sees the cells as written: "2.906" + "1.500" + "987" went as 991.406 where a
German export meant 5,393 (s18 R34 F1's rule, which the service applies per batch and the CLI
per file, :mod:`mesh.runtime.grouped_numbers`). The reading rule is ``liftos ingest
--decimal``'s (:class:`mesh.cli.csv_dialect.Dialect.number`; a test keeps the two alike): the
SDK may not import the CLI, so it is written here again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from mesh.runtime.grouped_numbers import THREE_DECIMAL_CURRENCIES, dot_grouped

__all__ = ["DECIMAL_MARKS", "grouped_problem", "number", "read_measures"]

DECIMAL_MARKS = (".", ",")
# A generic mapping's measures, and whether each is a whole number (a count).
_MEASURES = {"spend": False, "impressions": True, "clicks": True, "conversions": False,
             "revenue": False}  # fmt: skip
# Under ',': groups of three after '.', a space, a no-break or narrow no-break space (French),
# or an apostrophe, then ',' and digits. Under '.': groups after ','.
_COMMA_DECIMAL = re.compile(r"-?(?:\d{1,3}(?:([. \u00a0\u202f'])\d{3})?(?:\1\d{3})*|\d+)(?:,\d+)?")
_POINT_DECIMAL = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_GROUPING = re.compile(r"[. \u00a0\u202f',]")
_EXAMPLE = {",": "1234,56, 1.234,56 or 1 234,56", ".": "1234.56 or 1,234.56"}


def number(value: str, decimal: str) -> int | float | None:
    """``value`` read with ``decimal`` as its decimal mark (the other mark, a space or an
    apostrophe grouping thousands), or None where that rule does not read it."""
    pattern = _COMMA_DECIMAL if decimal == "," else _POINT_DECIMAL
    if pattern.fullmatch(value) is None:
        return None
    whole, _, fraction = value.partition("," if decimal == "," else ".")
    digits = _GROUPING.sub("", whole)
    return float(f"{digits}.{fraction}") if fraction else int(digits)


def _get(row: Any, path: str) -> Any:
    for part in path.split("."):
        if type(row) is not dict:
            return None
        row = row.get(part)
    return row


def _set(row: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``row`` with ``path`` (dotted for a nested field) set to ``value``."""
    head, _, rest = path.partition(".")
    inner = row.get(head)
    return {**row, head: _set(inner, rest, value) if rest and type(inner) is dict else value}


def _measures(mapping: dict[str, str]) -> dict[str, str]:
    """The mapped measures: field → column."""
    return {f: c for f, c in mapping.items() if f in _MEASURES and c}


def read_measures(
    rows: Iterable[tuple[int, str]], mapping: dict[str, str], decimal: str
) -> Iterator[tuple[int, str]]:
    """The rows (index, JSON text) with each mapped measure written as text read by
    ``decimal`` and sent as a JSON number (ingestion takes numbers as they are). A value the
    rule does not read raises ValueError naming its row, column and value; a row that is not
    a JSON object goes as it is, for ingestion to refuse."""
    columns = _measures(mapping)
    for index, text in rows:
        try:
            row = json.loads(text)
        except ValueError:
            row = None
        if type(row) is not dict:
            yield index, text
            continue
        out = row
        for field, column in columns.items():
            value = _get(row, column)
            if not isinstance(value, str) or not value.strip():
                continue  # a JSON number is read as it is; a blank is ingestion's to judge
            read = number(value.strip(), decimal)
            if read is None:
                raise ValueError(
                    f"row {index}: {column} ({field}) {value!r} is not a number with "
                    f"{decimal!r} as the decimal mark (decimal={decimal!r}): e.g. "
                    f"{_EXAMPLE[decimal]}"
                )
            out = _set(out, column, read)
        yield index, text if out is row else json.dumps(out, separators=(",", ":"))


def grouped_problem(
    rows: Iterable[tuple[int, str]], mapping: dict[str, str], currency: str = ""
) -> str | None:
    """Why the rows cannot be summed as written: a fractional measure column (spend,
    conversions, revenue) whose '.' is evidently a thousands separator ("2.906" beside "987"),
    named with the evidence and the fix; None when none is. Money in a currency with three
    minor digits (KWD, BHD, …) writes three decimals as a rule and is not judged."""
    columns = {
        f: c
        for f, c in _measures(mapping).items()
        if not _MEASURES[f] and (f == "conversions" or currency not in THREE_DECIMAL_CURRENCIES)
    }
    if not columns:
        return None
    values: dict[str, list[Any]] = {c: [] for c in columns.values()}
    for _, text in rows:
        try:
            row = json.loads(text)
        except ValueError:
            continue
        for column, kept in values.items():
            kept.append(_get(row, column))
    for field, column in columns.items():
        grouped = dot_grouped(values[column])
        if grouped is None:
            continue
        beside = (
            f"{grouped.whole:,} whole number(s) stand beside them"
            if grouped.whole
            else f"{grouped.dotted:,} values have one"
        )
        return (
            f"rows: {column} ({field}) {grouped.example!r} looks like "
            f"{grouped.example.replace('.', '')} written with '.' as a thousands separator: "
            f"every value of the column with a '.' has exactly three digits after it, and "
            f"{beside}, as a German or French export of whole amounts writes them. Summed as "
            "decimals, each such value would count a thousandth of itself. Nothing of it is "
            "guessed: pass decimal=',' ('.' groups thousands, ',' is the decimal mark; liftos "
            "ingest --decimal ','), decimal='.' if the values are decimals, or send numbers"
        )
    return None
