"""Raw rows as received → Python objects, one malformed row at a time rejected, not the batch.

A row must be a JSON object of at most ``MAX_ROW_CHARS`` characters nested at most
``MAX_DEPTH`` deep whose strings are real Unicode. Anything else is that row's ``malformed``
rejection with the field ``$`` (the row itself): deep nesting is refused *before* the JSON
parser sees it (the parser recurses, and 5,000 nested brackets overflow Python's stack), and
a lone UTF-16 surrogate escape (``"\\ud800"``) is refused after, because a string holding
one cannot be encoded as UTF-8 for the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ingestion_svc.raw_batch import Rejection

__all__ = [
    "MAX_DEPTH",
    "MAX_ROW_CHARS",
    "ROW",
    "canonical_json",
    "depth_of",
    "parse_json_rows",
]

# The field a rejection names when the whole row is at fault (JSONPath's root).
ROW = "$"
# Platform rows nest four levels at most (Meta's actions[] of objects); 20 is generous and
# far inside what json.loads, json.dumps and protobuf's Struct (~32 levels) can take.
MAX_DEPTH = 20
# Real export lines are under 2 KB; a 64 Ki-character line is not a report row.
MAX_ROW_CHARS = 65_536
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constants(name: str) -> Any:
    # NaN / Infinity are not JSON (RFC 8259); Python's parser would accept them.
    raise ValueError(f"{name} is not a JSON value")


def _line_depth(line: str) -> int:
    """How deep the brackets of a JSON text nest, brackets inside strings not counted."""
    if line.count("[") + line.count("{") <= MAX_DEPTH:  # the common case, in C
        return 0
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", line)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def depth_of(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``{}`` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if type(v) is dict:
            v = list(v.values())
        elif type(v) is not list:
            continue
        d += 1
        deepest = max(deepest, d)
        if d <= MAX_DEPTH:  # deeper than that is already enough to refuse
            stack.extend((x, d) for x in v)
    return deepest


def _unencodable(value: Any) -> bool:
    """True when a string anywhere in ``value`` holds a lone surrogate."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def row_problem(value: Any, size: int) -> str | None:
    """Why a parsed row is not one (too large, too deep, not an object), or None."""
    if size > MAX_ROW_CHARS:
        return f"row is {size:,} characters; at most {MAX_ROW_CHARS:,}"
    if type(value) is not dict:
        return "row is not a JSON object"
    if depth_of(value) > MAX_DEPTH:
        return f"row is nested more than {MAX_DEPTH} levels deep"
    return None


def parse_json_rows(
    lines: Sequence[str], *, first_index: int = 0
) -> tuple[list[dict[str, Any] | None], list[bytes], list[Rejection]]:
    """Parse JSON lines; returns (rows, raw bytes, rejections).

    A line that is not a JSON object within the bounds above becomes ``None`` in ``rows``
    and a ``malformed`` rejection at index ``first_index + position``.
    """
    rows: list[dict[str, Any] | None] = []
    raw: list[bytes] = []
    rejections: list[Rejection] = []
    loads = json.loads

    def reject(k: int, why: str) -> None:
        rows.append(None)
        rejections.append(Rejection(first_index + k, ROW, "malformed", why))

    for k, line in enumerate(lines):
        try:
            raw.append(line.encode())
        except UnicodeEncodeError:  # a str from gRPC is UTF-8; one built in process may not be
            raw.append(line.encode("utf-8", "surrogatepass"))
            reject(k, "row holds a lone UTF-16 surrogate (not Unicode text)")
            continue
        if len(line) > MAX_ROW_CHARS:
            reject(k, f"row is {len(line):,} characters; at most {MAX_ROW_CHARS:,}")
            continue
        if _line_depth(line) > MAX_DEPTH:
            reject(k, f"row is nested more than {MAX_DEPTH} levels deep")
            continue
        try:
            value = loads(line, parse_constant=_no_constants)
        except ValueError as exc:  # JSONDecodeError, and ints of more than 4,300 digits
            reject(k, f"not valid JSON: {str(exc)[:120]}")
            continue
        if type(value) is not dict:
            reject(k, "row is not a JSON object")
            continue
        if _SURROGATE_ESCAPE.search(line) and _unencodable(value):
            reject(k, "a string holds a lone UTF-16 surrogate escape (not Unicode text)")
            continue
        rows.append(value)
    return rows, raw, rejections


def canonical_json(rows: Iterable[dict[str, Any]]) -> list[bytes]:
    """The bytes a structured row is hashed as (sorted keys, compact)."""
    return [json.dumps(r, sort_keys=True, separators=(",", ":")).encode() for r in rows]
