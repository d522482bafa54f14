"""What every connector shares: column extraction from parsed rows, strict number and date
parsing, per-row rejection bookkeeping, geo and currency checks, and the frame a connector
hands to the pipeline.

A connector turns a batch's parsed rows (dicts, or None where a line was malformed) into a
:data:`NORMALISED` frame — one row per surviving raw row, in batch order — plus the rows it
rejected. Work is per column, never per row: one comprehension pulls a raw field out of
every row (JSON objects give no faster way in), then whole-column operations validate and
convert it. A clean column is validated by one regular-expression match over the joined
column and converted by numpy in C; only a column that fails falls back to element checks
to find its bad rows. A row's first failing check is its rejection.

String columns are numpy object arrays with ``None`` for missing, which costs a fraction
of pandas' string arrays at the 1,000-row batches this runs on.

Any JSON value may stand in any field. A text field takes a string or a number (ids often
come as numbers); an object, array or boolean there is the row's ``malformed`` rejection
(:meth:`Checks.text`), as is text longer than ``MAX_TEXT_CHARS`` or holding control
characters other than tab, newline and carriage return. A number field takes a
number or a numeric string; anything else is ``invalid_number``, and so is a number memory
would refuse — not finite (a 400-digit integer overflows a double), or outside the bounds of
:mod:`mesh.runtime.record_rules` (:meth:`Checks.number`). Dates must fall in 1900-2200.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ingestion_svc.connectors.regions import (
    known_subdivisions,
    nfc,
    record_geos,
    unknown_subdivision,
)
from ingestion_svc.currencies import ISO_4217
from ingestion_svc.raw_batch import Account, Rejection
from ingestion_svc.rejection_list import quoted
from mesh.runtime import record_rules

__all__ = [
    "MAX_TEXT_CHARS",
    "NORMALISED",
    "Checks",
    "Normalised",
    "assemble",
    "dates",
    "empty_normalised",
    "finer_than_key",
    "map_geo",
    "numbers",
    "pluck",
    "text",
]

# The connector → pipeline contract: column name → dtype ("object" columns hold str).
NORMALISED: dict[str, str] = {
    "row": "int64",  # index of the raw row in the batch
    "account_id": "object",
    "campaign_id": "object",  # "" when missing (the pipeline resolves it or rejects the row)
    "campaign_key": "object",  # what identifies the campaign when its id is missing
    "campaign_id_field": "object",  # raw path of the id, for the rejection
    "campaign_name": "object",
    "ident": "object",  # campaign id, or Klaviyo's campaign_message_id (natural-key part)
    "objective": "object",  # CampaignObjective short name
    "channel": "object",
    "geo_key": "object",  # the org's geo code the platform key maps to ("CA")
    "geo": "object",  # ISO 3166-2 where the code is bare and the country known ("US-CA")
    "local_date": "datetime64[s]",
    "timezone": "object",
    "tz_repaired": "bool",  # the platform gave the day in another zone; converted
    "tz_mismatch": "bool",  # the row's own offset disagrees with the account zone
    "spend": "float64",
    "impressions": "int64",
    "clicks": "int64",
    "conversions": "float64",
    "revenue": "float64",
    "currency": "object",
    "attribution_window": "object",
    "modelled": "bool",  # conversions are modelled (fractional), not counted
    "attribution_ok": "bool",  # the platform's attribution breakdown adds up
    "outcome_reported": "bool",  # conversions present in the row (not implied zero)
    "note": "object",  # what the connector repaired on this row, "" when nothing
}

# Ids, names, codes and dates are short; a longer value is not one (the whole row is at most
# ingestion_svc.parse.MAX_ROW_CHARS).
MAX_TEXT_CHARS = 1_024
_TEXTUAL = {str, int, float, type(None)}
# C0 controls and DEL but tab, newline and carriage return (a campaign name may hold them):
# never in a real export's text, and memory refuses them in a record's text (NUL in an id,
# a terminal escape in a name), so such a row is rejected here naming its raw field.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_KIND = {dict: "object", list: "array", bool: "boolean"}
_FIRST_DAY = np.datetime64(record_rules.MIN_DATE, "s")
_LAST_DAY = np.datetime64(record_rules.MAX_DATE, "s")

_DECIMAL = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
# Struct rows carry every number as a double, so 12 arrives as "12.0".
_INTEGER = r"-?\d+(?:\.0+)?"
# ASCII: \d would take full-width and other scripts' digits, which numpy reads as numbers.
_ONE = {False: re.compile(_DECIMAL, re.ASCII), True: re.compile(_INTEGER, re.ASCII)}
_ALL = {k: re.compile(f"(?:{p.pattern}\n)*", re.ASCII) for k, p in _ONE.items()}


def pluck(rows: Sequence[Any], path: str) -> list[Any]:
    """The value at dotted ``path`` of every row (None where absent or not an object)."""
    values = list(rows)
    for part in path.split("."):
        values = [v.get(part) if type(v) is dict else None for v in values]
    return values


def _as_text(v: Any) -> str | None:
    if v is None or v == "":
        return None
    return v if type(v) is str else str(v)


def text(values: Sequence[Any]) -> np.ndarray:
    """Values as an object array of str; None / "" → None, numbers → their decimal text."""
    return np.array([v if type(v) is str and v else _as_text(v) for v in values], dtype=object)


def filled(values: np.ndarray, default: str) -> np.ndarray:
    """``values`` with None replaced by ``default``."""
    out = values.copy()
    out[values == None] = default  # noqa: E711 - elementwise
    return out


def missing(values: np.ndarray) -> np.ndarray:
    return values == None  # noqa: E711 - elementwise


def matches(values: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    """Elementwise full match of str values (None → False)."""
    return np.fromiter(
        (v is not None and pattern.fullmatch(v) is not None for v in values), bool, len(values)
    )


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed numeric column: values (NaN where missing/invalid) and the two masks; ``raw``
    the values as given where any is invalid (a refusal quotes them), ``integer`` whether a
    whole number was due."""

    values: np.ndarray
    missing: np.ndarray
    invalid: np.ndarray
    raw: Sequence[Any] = ()
    integer: bool = False

    def why_invalid(self, field: str, i: int) -> str:
        """Why value ``i`` is not a number, quoting it. Thousands separators are not read:
        "1,234" is 1234 in one locale and 1.234 in another, and guessing would misread one
        of them silently."""
        value = f" {quoted(self.raw[i])}" if i < len(self.raw) else ""
        if self.integer:
            return (
                f"{field}{value} is not a whole number (digits and an optional '-': no fraction, "
                "thousands separators, currency signs or spaces)"
            )
        # a separator the user's locale writes: the CLI reads it when told which is which
        locale = (
            "; a file with ',' as its decimal mark (1.234,56) or as a thousands separator "
            "(1,234.56) is read with liftos ingest --decimal ',' or --decimal '.'"
            if i < len(self.raw) and "," in str(self.raw[i])
            else ""
        )
        return (
            f"{field}{value} is not a plain number (digits, an optional '-' and one '.' "
            f"decimal point: no thousands separators, currency signs or spaces){locale}"
        )


def numbers(values: list[Any], *, integer: bool = False) -> Parsed:
    """Strictly parse numbers given as JSON numbers or as the platforms' numeric strings.

    Accepted: ``"12"``, ``"12.50"``, ``-3``, ``2.5e-3``; invalid: ``"$12.34"``, ``"1,234"``,
    ``"12,34"``, ``" 12"``, ``true``, objects, and fractions where an integer is due. A
    formatted string is a corrupted export, not a locale to guess (``"12,34"`` is 12.34 in
    one and 1234 in another), so it is rejected rather than repaired.
    """
    n = len(values)
    kinds = set(map(type, values))
    none = np.zeros(n, dtype=bool)
    if type(None) in kinds:  # absent values: parse the present ones the fast way
        kinds.discard(type(None))
        gone = np.fromiter((v is None for v in values), bool, n)
        present = [v for v in values if v is not None]
    else:
        gone, present = none, values
    fast: np.ndarray | None = None
    if kinds <= {int, float} and present:
        try:
            fast = np.array(present, dtype=np.float64)
        except OverflowError:  # an int beyond a double: the slow path reads it as inf
            fast = None
        if fast is not None and integer and (fast != np.round(fast)).any():
            fast = None
    elif kinds == {str} and _ALL[integer].fullmatch("\n".join(present) + "\n"):
        fast = np.array(present, dtype=np.float64)
    if fast is not None or not present:
        out = np.full(n, np.nan)
        out[~gone] = fast if fast is not None else []
        return Parsed(out, gone, none)
    # Mixed or dirty column: find the bad elements one by one.
    strs = text(values)
    gone = missing(strs)
    ok = matches(strs, _ONE[integer])
    out = np.full(n, np.nan)
    out[ok] = np.array(strs[ok], dtype=np.float64) if ok.any() else []
    return Parsed(out, gone, ~gone & ~ok, values, integer)


def dates(values: list[Any], pattern: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(datetime64[s] at local midnight, missing, invalid) for ``yyyy-mm-dd``-shaped strings
    matching ``pattern``; impossible dates (2024-02-30) are invalid."""
    strs = text(values)
    gone = missing(strs)
    shaped = matches(strs, re.compile(pattern, re.ASCII))
    out = np.full(len(strs), np.datetime64("NaT"), dtype="datetime64[s]")
    good = strs[shaped]
    try:
        out[shaped] = np.array([s[:10] for s in good], dtype="datetime64[D]")
    except ValueError:  # an impossible date somewhere: parse one by one
        for i in np.flatnonzero(shaped).tolist():
            with contextlib.suppress(ValueError):
                out[i] = np.datetime64(strs[i][:10], "D")
    out = supported(out)
    return out, gone, ~gone & np.isnat(out)


def supported(days: np.ndarray) -> np.ndarray:
    """``days`` (datetime64[s]) with those outside the supported range 1900-2200 as NaT."""
    out = days.copy()
    out[(days < _FIRST_DAY) | (days > _LAST_DAY)] = np.datetime64("NaT")
    return out


class Checks:
    """Rejections of one batch, first failure per row wins."""

    def __init__(self, rows: Sequence[dict[str, Any] | None]) -> None:
        self.n = len(rows)
        # Rows that did not parse were rejected as malformed already.
        self.bad = np.fromiter((r is None for r in rows), dtype=bool, count=self.n)
        self.rejections: list[Rejection] = []

    def fail(
        self,
        mask: np.ndarray,
        field: str,
        reason: str,
        message: str | Callable[[int], str],
    ) -> None:
        """Reject the rows in ``mask`` not already rejected; ``message(i)`` may name values."""
        new = np.asarray(mask, dtype=bool) & ~self.bad
        if not new.any():
            return
        for i in np.flatnonzero(new).tolist():
            msg = message(i) if callable(message) else message
            self.rejections.append(Rejection(i, field, reason, msg))
        self.bad |= new

    def text_field(self, rows: Sequence[dict[str, Any] | None], path: str) -> np.ndarray:
        """:meth:`text` of the raw field at ``path`` of every row."""
        return self.text(pluck(rows, path), path)

    def metric(
        self,
        rows: Sequence[dict[str, Any] | None],
        path: str,
        *,
        rule: str,
        required: bool,
        integer: bool = False,
        scale: float = 1.0,
        negative_fix: str = "",
    ) -> np.ndarray:
        """:meth:`number` of the raw field at ``path`` of every row."""
        parsed = numbers(pluck(rows, path), integer=integer)
        return self.number(
            parsed, path, required=required, rule=rule, scale=scale, negative_fix=negative_fix
        )

    def number(
        self,
        parsed: Parsed,
        field: str,
        *,
        required: bool,
        rule: str,
        scale: float = 1.0,
        negative_fix: str = "",
    ) -> np.ndarray:
        """Reject missing (when required) and invalid values, and values the record field
        ``rule`` may not hold (:func:`mesh.runtime.record_rules.breaches`: not finite, negative,
        too large) once multiplied by ``scale`` (micros → units); returns the values with
        missing optional ones as 0 (the platforms omit zero metrics). ``negative_fix``: why
        a negative value cannot be taken and what to map instead, added to its rejection."""
        raw = parsed.values
        if required:
            self.fail(parsed.missing, field, "missing_field", f"{field} is missing")
        self.fail(
            parsed.invalid,
            field,
            "invalid_number",
            lambda i: parsed.why_invalid(field, i),
        )
        known = ~np.isnan(raw)  # NaN: missing or invalid, dealt with above
        finite, negative, large, small = record_rules.breaches(
            rule, np.where(known, raw * scale, 0.0)
        )
        self.fail(
            finite[0],
            field,
            "invalid_number",
            f"{field} is out of range: {finite[1]} (it overflows a double)",
        )
        self.fail(
            negative[0],
            field,
            "negative_value",
            lambda i: f"{field} {raw[i]:g} is negative{negative_fix}",
        )
        self.fail(
            large[0],
            field,
            "invalid_number",
            lambda i: f"{field} {raw[i]:g} is out of range: {large[1]}",
        )
        self.fail(
            small[0],
            field,
            "invalid_number",
            lambda i: f"{field} {raw[i]:g} is out of range: {small[1]}",
        )
        return np.where(known & np.isfinite(raw), raw, 0.0)

    def text(self, values: list[Any], field: str) -> np.ndarray:
        """:func:`text` of a raw column, rejecting objects, arrays and booleans (a field
        the platform sends as a string or a number) and text over ``MAX_TEXT_CHARS``; the
        rejected rows' values come back as None."""
        if set(map(type, values)) - _TEXTUAL:
            odd = np.fromiter((type(v) not in _TEXTUAL for v in values), bool, len(values))
            self.fail(
                odd,
                field,
                "malformed",
                lambda i: f"{field} is a JSON {_KIND.get(type(values[i]), 'value')}, not text",
            )
            values = [None if o else v for v, o in zip(values, odd.tolist(), strict=True)]
        out = text(values)
        if max(map(len, filter(None, out.tolist())), default=0) > MAX_TEXT_CHARS:
            long = np.fromiter(
                (v is not None and len(v) > MAX_TEXT_CHARS for v in out), bool, len(out)
            )
            self.fail(
                long,
                field,
                "malformed",
                lambda i: f"{field} is {len(out[i]):,} characters; at most {MAX_TEXT_CHARS:,}",
            )
            out[long] = None
        if _CONTROL.search("\n".join(filter(None, out.tolist()))):
            held = np.fromiter(
                (v is not None and _CONTROL.search(v) is not None for v in out), bool, len(out)
            )
            self.fail(
                held,
                field,
                "malformed",
                lambda i: f"{field} {quoted(out[i])} holds control characters",
            )
            out[held] = None
        return out

    def required(self, values: np.ndarray, field: str) -> None:
        self.fail(missing(values), field, "missing_field", f"{field} is missing")

    def currency(self, codes: np.ndarray, account: Account, field: str) -> np.ndarray:
        """ISO 4217 and the account's own currency; an absent code is the account's."""
        values = filled(codes, account.currency)
        iso = np.fromiter((v in ISO_4217 for v in values.tolist()), bool, len(values))
        self.fail(
            ~iso,
            field,
            "unknown_currency",
            lambda i: f"currency {quoted(values[i])} is not ISO 4217",
        )
        if account.currency:
            self.fail(
                values != account.currency,
                field,
                "unknown_currency",
                lambda i: f"currency {values[i]} differs from the account's {account.currency}",
            )
        return values

    def clicks_vs_impressions(
        self, clicks: np.ndarray, impressions: np.ndarray, field: str
    ) -> None:
        self.fail(
            clicks > impressions,
            field,
            "clicks_exceed_impressions",
            lambda i: f"clicks {clicks[i]:.0f} exceed impressions {impressions[i]:.0f}",
        )

    def account(self, ids: np.ndarray, account: Account, field: str) -> np.ndarray:
        """Rows of another account than the batch's are rejected (when the batch names one)."""
        if not account.account_id:
            self.required(ids, field)
            return ids
        self.fail(
            ~missing(ids) & (ids != account.account_id),
            field,
            "wrong_account",
            lambda i: (
                f"row of account {quoted(ids[i])} in a batch for account {quoted(account.account_id)}"
            ),
        )
        return filled(ids, account.account_id)


# A row finer than its connector's key (ad set, ad group, device, ...): its reason, and the
# words its message begins with.
FINER_REASON = "finer_than_key"
FINER = "finer than the key"


def finer_than_key(
    checks: Checks,
    rows: Sequence[dict[str, Any] | None],
    *,
    key: str,
    fix: str,
    fields: Sequence[str] = (),
    only: Mapping[str, frozenset[str]] | None = None,
) -> None:
    """Reject rows that carry a dimension below the connector's natural key (``key``, e.g.
    "campaign × region × day"): the ``fields`` (dotted paths; present and not empty) and, for
    each object path of ``only``, any of its keys outside the allowed set.

    Such rows come several to a key (two ad sets of one campaign, a device split), and one
    key stores one row: the later would replace the earlier as a restatement and the other
    rows' spend would be lost without a word. Summing them is not safe either: a pull may be
    split across batches, and a later pull restates rather than adds. ``fix`` says how to
    export at the key's grain.
    """
    n = len(rows)
    first: list[tuple[str, Any] | None] = [None] * n
    for path in fields:
        for i, v in enumerate(pluck(rows, path)):
            if first[i] is None and v is not None and v != "" and v != {}:
                first[i] = (path, v)
    for path, allowed in (only or {}).items():
        for i, v in enumerate(pluck(rows, path)):
            if first[i] is None and type(v) is dict:
                extra = sorted(k for k, x in v.items() if k not in allowed and x is not None)
                if extra:
                    first[i] = (f"{path}.{extra[0]}", v[extra[0]])
    shown = [
        ""
        if f is None
        else f"{FINER}: {f[0]} {_shown_value(f[1])} splits one {key} into "
        f"several rows, of which one would be kept; {fix}"
        for f in first
    ]
    for path in dict.fromkeys(f[0] for f in first if f is not None):
        mask = np.fromiter((f is not None and f[0] == path for f in first), bool, n)
        checks.fail(mask, path, FINER_REASON, shown.__getitem__)


def _shown_value(v: Any) -> str:
    if type(v) is dict:  # a resource (adGroup): its id, else its name
        v = v.get("id") or v.get("resourceName") or v.get("resource_name") or "{...}"
    return quoted(v if type(v) is str else str(v))


def map_geo(
    native: np.ndarray,
    account: Account,
    checks: Checks,
    field: str,
    *,
    subdivision: bool = False,
    table_ids: tuple[re.Pattern[str], str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Platform geo keys → (org geo code, record geo).

    Through ``account.geo_keys`` when the account has one (unknown keys are rejected), else
    the platform's key itself — with ``subdivision`` (a merchant's own geo column, Meta's
    region names) checked to be one of the account country's subdivisions where their list
    is known (the US, Canada, Germany: "Atlantis" is rejected, "California" is "CA"). A bare code (no
    ``XX-`` prefix) gets the account's country as an ISO 3166-2 prefix on the record geo:
    "CA" → "US-CA", "Bayern" → "BY" → "DE-BY" (:mod:`ingestion_svc.connectors.regions`).

    ``table_ids`` = (pattern, what it is): keys of that shape are the platform's own ids
    (Google's ``geoTargetConstants/21137``, TikTok's numeric province ids) that only a table
    turns into a region; without ``geo_keys`` they are rejected ``unknown_geo`` saying so,
    since stored as they are they would never meet the orders' geos.
    """
    checks.required(native, field)
    native = nfc(native)
    if not account.geo_keys and table_ids is not None:
        pattern, what = table_ids
        opaque = matches(native, pattern)
        checks.fail(
            opaque,
            field,
            "unknown_geo",
            lambda i: (
                f"geo {quoted(native[i])} is {what}: the account needs geo_keys "
                "(accounts.json: each platform geo key → its state or region code) to map it"
            ),
        )
    if not account.geo_keys and subdivision and account.country:
        code, unknown = known_subdivisions(filled(native, ""), account.country)
        checks.fail(
            unknown,
            field,
            "unknown_geo",
            lambda i: unknown_subdivision(str(native[i]), account.country),
        )
        code = filled(code, "")
    elif account.geo_keys:
        table = {unicodedata.normalize("NFC", k): v for k, v in account.geo_keys.items()}
        code = np.array([table.get(k) if k is not None else "" for k in native], dtype=object)
        checks.fail(
            missing(code),
            field,
            "unknown_geo",
            lambda i: f"geo {quoted(native[i])} is not in the account's geo mapping",
        )
        code = filled(code, "")
    else:
        code = filled(native, "")
    return code, record_geos(code, account.country)


def empty_normalised() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in NORMALISED.items()})


@dataclass(frozen=True, slots=True)
class Normalised:
    """A connector's output: surviving rows in the :data:`NORMALISED` schema + rejections."""

    frame: pd.DataFrame
    rejections: list[Rejection]


def assemble(checks: Checks, columns: dict[str, Any]) -> Normalised:
    """Build the :data:`NORMALISED` frame from full-length columns, dropping rejected rows.

    A str column may be given as one str (every row); None in str columns becomes "".
    Missing optional columns take their neutral value (False, "", 0).
    """
    keep = ~checks.bad
    m = int(keep.sum())
    data: dict[str, Any] = {}
    for name, dtype in NORMALISED.items():
        if name == "row":
            data[name] = np.flatnonzero(keep).astype(np.int64)
            continue
        col = columns.get(name)
        if dtype == "object":
            if col is None or isinstance(col, str):
                values = np.full(m, col or "", dtype=object)
            else:
                values = filled(np.asarray(col, dtype=object)[keep], "")
            data[name] = pd.Series(values, dtype=object, copy=False)
        elif col is None:
            data[name] = np.zeros(m, dtype=dtype)
        else:
            data[name] = np.asarray(col)[keep].astype(dtype)
    return Normalised(pd.DataFrame(data), checks.rejections)
