"""A mapped source's measure cells written as text, read as ``liftos ingest`` reads a CSV's:
by the decimal mark the caller names (``LiftOS.ingest(decimal=...)``), and, with none named,
judged where a column's '.' may be a thousands separator and the rows are to be summed.

``sum_rows=True`` adds each key's rows into one before anything is sent, so the ingestion
service never sees the cells as written: "2.906" + "1.500" + "987" went as 991.406 where a
German export meant 5,393 (s18 R34 F1). The service and the CLI call the '.' a separator only
on proof ("1.234.567" in the column, :mod:`mesh.runtime.grouped_numbers`) and refuse such a
column; one that only looks grouped ("412.500", "1.333" beside "3": a US export to three
places reads so too, s18 V1 F4) is read as decimals and said loudly. So does this: a proved
column raises ValueError, a doubtful one is summed as decimals with a :class:`DecimalDoubt`
warning naming decimal=','. The reading rule is :mod:`mesh.runtime.written_numbers`, the
CLI's too.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from mesh.runtime.grouped_numbers import THREE_DECIMAL_CURRENCIES, dot_grouped
from mesh.runtime.written_numbers import DECIMAL_MARKS, EXAMPLE, number
from mesh.sdk.generic_rows import _INTEGER, MEASURES, _get

__all__ = ["DECIMAL_MARKS", "MEASURE_WHOLE", "DecimalDoubt", "grouped_problem", "read_measures"]

# A generic mapping's measures, and whether each is a whole number (a count); the CLI's
# Dialect reads the same table.
MEASURE_WHOLE: dict[str, bool] = {m: m in _INTEGER for m in MEASURES}


class DecimalDoubt(UserWarning):
    """A column summed as decimals whose '.' may group thousands ("412.500" beside whole
    numbers): read so, as the service reads it; re-send with decimal=',' if it groups."""


def _set(row: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``row`` with ``path`` (dotted for a nested field) set to ``value``."""
    head, _, rest = path.partition(".")
    inner = row.get(head)
    return {**row, head: _set(inner, rest, value) if rest and type(inner) is dict else value}


def _measures(mapping: dict[str, str]) -> dict[str, str]:
    """The mapped measures: field → column."""
    return {f: c for f, c in mapping.items() if f in MEASURE_WHOLE and c}


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
                    f"{EXAMPLE[decimal]}"
                )
            out = _set(out, column, read)
        yield index, text if out is row else json.dumps(out, separators=(",", ":"))


def grouped_problem(
    rows: Iterable[tuple[int, str]], mapping: dict[str, str], currency: str = ""
) -> str | None:
    """Why the rows cannot be summed as written: a fractional measure column (spend,
    conversions, revenue) whose '.' is proved a thousands separator ("1.234.567" beside
    "2.906"), named with the evidence and the fix; None when none is. A column that only
    looks grouped ("412.500" beside "3") is summed as decimals, as the service and ``liftos
    ingest`` read it, with a :class:`DecimalDoubt` warning naming decimal=','. Money in a
    currency with three minor digits (KWD, BHD, …) writes three decimals as a rule and is not
    judged."""
    columns = {
        f: c
        for f, c in _measures(mapping).items()
        if not MEASURE_WHOLE[f] and (f == "conversions" or currency not in THREE_DECIMAL_CURRENCIES)
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
    doubts: list[str] = []
    for field, column in columns.items():
        grouped = dot_grouped(values[column])
        if grouped is None:
            continue
        name = f"{column} ({field})"
        if grouped.certain:
            return (
                f"rows: {name} {grouped.example!r} is written with '.' as a thousands "
                "separator, so the column's other dotted values are whole thousands too, not "
                "decimals; summed as decimals, each would count a thousandth of itself. "
                "Nothing of it is guessed: pass decimal=',' ('.' groups thousands, ',' is the "
                "decimal mark; liftos ingest --decimal ','), or send numbers"
            )
        written = int(grouped.example.replace(".", ""))
        doubts.append(
            f"rows: {name}: every value with a '.' has exactly three digits after it "
            f"({grouped.dotted:,} values, e.g. {grouped.example!r}), so they were summed as "
            f"decimals. If '.' groups thousands here (a German or French export: "
            f"{grouped.example!r} meaning {written:,}), ingest the rows again with "
            "decimal=',' (liftos ingest --decimal ',') and a later pulled_at: the re-send "
            "then restates the rows stored now"
        )
    for doubt in doubts:  # the caller of LiftOS.ingest: _keyed_rows, ingest, then theirs
        warnings.warn(doubt, DecimalDoubt, stacklevel=4)
    return None
