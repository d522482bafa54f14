"""How a CSV file writes its cells: the separator between them, and the decimal mark of its
numbers (``liftos ingest --delimiter/--decimal``, ``liftos estimate`` alike).

German and French Excel saves "CSV" with ';' between cells and ',' as the decimal mark
("70.034,39"); their whole amounts group thousands with '.' ("2.906" = 2,906). Two options
rather than one locale switch: the separator and the decimal mark vary apart (a ','-separated
export with quoted "1.234,56" cells, a ';' file with '.' decimals, Swiss "1'234.50"), and a
locale would also seem to say how dates are written, which LiftOS never guesses (ISO only).

With ``--decimal`` given, the mapped measure columns are read here by that rule and sent as
JSON numbers, which ingestion takes as they are; a value the rule does not read refuses the
file naming its line. Without it, numbers go as written and ingestion's strict rule reads them;
a column whose '.' is proved a thousands separator ("1.234.567") is refused before anything
is sent, and one that only looks so ("412.500") is sent as decimals with a warning naming
--decimal ',' (:mod:`mesh.runtime.grouped_numbers`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mesh.runtime import written_numbers
from mesh.runtime.grouped_numbers import THREE_DECIMAL_CURRENCIES, dot_grouped
from mesh.runtime.zoned_times import ZONED, local_time, utc_midnights
from mesh.sdk.generic_rows_numbers import MEASURE_WHOLE, DecimalDoubt

__all__ = [
    "DELIMITERS",
    "Dialect",
    "delimiter_name",
    "encoding_problem",
    "header_problem",
    "parse_delimiter",
    "send",
]

# What --delimiter takes: the character, or a name for one a shell makes awkward.
DELIMITERS = {",": ",", ";": ";", "|": "|", "tab": "\t", "\\t": "\t", "\t": "\t"}
# Separators a one-column header betrays (a ';' file read with ',').
_OTHER_SEPARATORS = (";", "\t", "|")


def parse_delimiter(text: str) -> str:
    """--delimiter's value as the character (``tab`` → a tab)."""
    if text not in DELIMITERS:
        raise SystemExit(
            f"error: --delimiter {text!r}: give one of ',', ';', '|' or tab (the character "
            "between a CSV file's cells)"
        )
    return DELIMITERS[text]


def delimiter_name(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


def header_problem(path: Path, fields: Iterable[str] | None, delimiter: str) -> str | None:
    """Why a CSV file cannot have been split by ``delimiter``: its header is one column
    holding another separator ('Datum;Bundesland;Umsatz'); None otherwise."""
    names = [] if fields is None else [str(f) for f in fields]
    if len(names) != 1:
        return None
    found = [s for s in _OTHER_SEPARATORS if s != delimiter and s in names[0]]
    if not found:
        return None
    shown = names[0] if len(names[0]) <= 60 else names[0][:57] + "…"
    return (
        f"{path} looks {delimiter_name(found[0])}-separated (its header {shown!r} is one "
        f"column when split at {delimiter_name(delimiter)}): pass --delimiter "
        f"{delimiter_name(found[0])}, or re-save it with commas"
    )


@dataclass(frozen=True, slots=True)
class Dialect:
    """A CSV file's separator and, when the user gave it, its decimal mark ('.' or ',');
    ``measures``: the mapped measure columns to read by it (column → whole numbers due)."""

    delimiter: str = ","
    decimal: str | None = None
    measures: Mapping[str, bool] = field(default_factory=dict)
    # fractional measures that are not money (conversions): judged in any currency
    counts: frozenset[str] = frozenset()
    # the date column, and the account's zone its zoned date-times are read in
    date: str = ""
    zone: str = ""
    # the file's zoned times are all midnight UTC: dates, each read as the date written
    midnights: bool = False

    @classmethod
    def of(
        cls,
        mapping: Mapping[str, str] | None,
        delimiter: str,
        decimal: str | None,
        zone: str = "",
    ) -> Dialect:
        """The dialect of a generic ``--mapping`` (field → column)'s files, for an account in
        ``zone``."""
        mapped = {f: c for f, c in (mapping or {}).items() if f in MEASURE_WHOLE}
        return cls(
            delimiter,
            decimal,
            {c: MEASURE_WHOLE[f] for f, c in mapped.items()},
            frozenset(c for f, c in mapped.items() if f == "conversions"),
            (mapping or {}).get("date", ""),
            zone,
        )

    def dated(self, rows: Iterable[tuple[int, dict[str, Any]]]) -> Dialect:
        """This dialect for a file of ``rows`` (line, row): its date column's zoned times
        read as the dates written when each is midnight UTC ("2024-01-05T00:00:00.000Z", a
        date as JavaScript and pandas write it), else in the account's zone (V1 F2)."""
        if not self.date:
            return self
        return replace(self, midnights=utc_midnights(row.get(self.date) for _, row in rows))

    def number(self, value: str) -> int | float | None:
        """``value`` read with the decimal mark, or None where the rule does not read it
        (:func:`mesh.runtime.written_numbers.number`, the SDK's rule too)."""
        return written_numbers.number(value, self.decimal or ".")

    def read(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its measure cells as numbers (those the rule cannot read as written,
        for :meth:`problem` to name), and a date-time written with its zone as the account
        zone's local time: --sum-rows and the key check group rows by the day they read
        (mesh.sdk.generic_rows), which for "2024-10-26T22:30:00Z" in Berlin is the 27th."""
        out = row
        stamp = row.get(self.date) if self.date else None
        if isinstance(stamp, str) and ZONED.fullmatch(stamp):
            day = stamp[:10] if self.midnights else local_time(stamp, self.zone) or stamp
            out = {**row, self.date: day}
        if self.decimal is None or not self.measures:
            return out
        out = dict(out)
        for column in self.measures:
            value = row.get(column)
            if isinstance(value, str) and value.strip():
                number = self.number(value.strip())
                if number is not None:
                    out[column] = number
        return out

    def problem(
        self, path: Path, rows: Iterable[tuple[int, dict[str, Any]]], currency: str = ""
    ) -> str | None:
        """Why the file's measure columns cannot be read (see :meth:`judge`); None when they
        can."""
        return self.judge(path, rows, currency)[0]

    def judge(
        self, path: Path, rows: Iterable[tuple[int, dict[str, Any]]], currency: str = ""
    ) -> tuple[str | None, list[str]]:
        """Why the file's measure columns cannot be read: a value the given decimal mark does
        not read (with its line), or, with none given, a fractional column whose '.' is
        proved a thousands separator ("1.234.567"; money in a three-decimal ``currency``
        aside; a count's "2.906" is refused by ingestion as not whole); and the warnings for
        columns that only look grouped ("412.500"), read as decimals (V1 F4)."""
        judged = [c for c, whole in self.measures.items() if not whole]
        if currency in THREE_DECIMAL_CURRENCIES:
            judged = [c for c in judged if c in self.counts]
        columns: dict[str, list[Any]] = {c: [] for c in judged}
        for line, row in rows:
            if self.decimal is None:
                for column, kept in columns.items():
                    kept.append(row.get(column))
                continue
            for column in self.measures:
                value = row.get(column)
                if isinstance(value, str) and value.strip() and self.number(value.strip()) is None:
                    return (
                        f"{path} line {line}: {column} {value!r} is not a number with "
                        f"{self.decimal!r} as the decimal mark (--decimal {self.decimal!r}): "
                        f"e.g. {written_numbers.EXAMPLE[self.decimal]}"
                    ), []
        doubts: list[str] = []
        # the file's rows are stored by then: only a later pull time restates them
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        resend = (
            f" --pulled-at {later:%Y-%m-%dT%H:%M:%SZ} (a pull time later than this one's: "
            "the re-send then restates the rows stored now)"
        )
        for column, values in columns.items():
            grouped = dot_grouped(values)
            if grouped is not None and grouped.certain:
                return f"{path}: {grouped.why(column)}", []
            if grouped is not None:
                doubts.append(f"{path}: {grouped.doubt(column, resend=resend)}")
        return None, doubts


def send(client: Any, path: Path, dialect: Dialect | None) -> Callable[..., Any]:
    """``client.ingest`` for one file's rows, its numbers read as ``dialect`` says: a CSV's
    measures are read here (:meth:`Dialect.read`), a JSON file's by the SDK with --decimal
    (ignored for JSON before). The SDK's refusal of a mapped file, raised before anything is
    sent ("1.234.567" under --sum-rows, a value --decimal does not read), is printed as an
    error and exits 2 (a traceback before); its warning of a column summed as decimals that
    may group thousands is printed as one for a JSON file (a CSV's was said by
    :meth:`Dialect.judge`, in ``liftos ingest``'s words)."""
    json_file = path.suffix.lower() != ".csv"
    decimal = dialect.decimal if dialect is not None and json_file else None

    def ingest(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", DecimalDoubt)
            try:
                summary = client.ingest(*args, decimal=decimal, **kwargs)
            except ValueError as exc:
                if not kwargs.get("mapping"):
                    raise  # unmapped rows are not read before sending: no refusal of the file
                print(f"error: {path}: {exc}", file=sys.stderr)
                raise SystemExit(2) from exc
        for w in said:
            if not issubclass(w.category, DecimalDoubt):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
            elif json_file:
                print(f"warning: {path}: {w.message}", file=sys.stderr)
        return summary

    return ingest


def encoding_problem(path: Path, encoding: str = "utf-8-sig") -> str | None:
    """Why a CSV file cannot be read as ``encoding`` text: the first byte that is not, with
    its line, and what to do; None when it can (or the file is not a CSV: JSON is UTF-8)."""
    if path.suffix.lower() != ".csv":
        return None
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        return f"--encoding {encoding}: no such text encoding (e.g. utf-8, cp1252, latin-1)"
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                byte = exc.object[exc.start : exc.start + 1].hex()
                name = "UTF-8" if encoding.lower().replace("_", "-") in _UTF8 else encoding
                return (
                    f"{path} is not {name} text: byte 0x{byte} on line {number} is not "
                    f"{name}. Re-save it as 'CSV UTF-8', or pass its encoding: --encoding "
                    "cp1252 for Excel's 'CSV (Comma delimited)' on Windows (latin-1, "
                    "mac-roman, … for others)"
                )
    return None


_UTF8 = ("utf-8", "utf8", "utf-8-sig", "utf8-sig")


def json_records(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of a JSON-lines file's object rows, for :meth:`Dialect.judge` (a line that
    is no JSON object is left to ingestion, which rejects it with its reason)."""
    for where, text in lines:
        try:
            row = json.loads(text)
        except ValueError:
            continue
        if isinstance(row, dict):
            yield where, row
