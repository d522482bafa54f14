"""Raw rows as received → Python objects, one malformed row at a time rejected, not the batch.

A row must be a JSON object of at most ``MAX_ROW_CHARS`` characters nested at most
``MAX_DEPTH`` deep whose strings are real Unicode. Anything else is that row's ``malformed``
rejection with the field ``$`` (the row itself): deep nesting is refused *before* the JSON
parser sees it (the parser recurses, and 5,000 nested brackets overflow Python's stack), and
a lone UTF-16 surrogate escape (``"\\ud800"``) is refused after, because a string holding
one cannot be encoded as UTF-8 for the record. An integer literal longer than Python converts
(4,300 digits) is that row's ``invalid_number`` rejection naming the field that holds it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ingestion_svc.raw_batch import Rejection
from mesh.runtime.exceptions import shown

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
# A key named as is in a field path; any other is quoted (escaped, clipped).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_@$-]{1,64}", re.ASCII)


def _no_constants(name: str) -> Any:
    # NaN / Infinity are not JSON (RFC 8259); Python's parser would accept them.
    raise ValueError(f"{name} is not a JSON value")


class _LongInteger:
    """Stands for an integer literal too long for ``int()`` (see :func:`_long_integer`)."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _int_or_long(text: str) -> int | _LongInteger:
    digits = len(text) - text.startswith("-")
    limit = sys.get_int_max_str_digits()
    return int(text) if not limit or digits <= limit else _LongInteger(digits)


def _long_integer(line: str) -> tuple[str, int] | None:
    """(field path, digits) of the first integer literal of ``line`` too long for ``int()``
    (CPython refuses more than 4,300 digits, a guard against quadratic conversion), or None.
    Only called on a line json.loads refused, so good rows never pay for the hook."""
    try:
        value = json.loads(line, parse_int=_int_or_long, parse_constant=_no_constants)
    except ValueError:
        return None
    if type(value) is not dict:  # refused as not an object, whatever it holds
        return None
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # depth-first, first key first: the first long literal of the row
        path, v = stack.pop()
        if isinstance(v, _LongInteger):
            return path or ROW, v.digits
        if type(v) is dict:
            items = [(_key_path(path, k), x) for k, x in v.items()]
        elif type(v) is list:
            items = [(f"{path}[{k}]", x) for k, x in enumerate(v)]
        else:
            continue
        stack.extend(reversed(items))
    return None


def _key_path(path: str, key: str) -> str:
    part = key if _PLAIN_KEY.fullmatch(key) else f"[{shown(key, 40)}]"
    return f"{path}.{part}" if path and part[0] != "[" else f"{path}{part}"


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

    def reject(k: int, why: str, field: str = ROW, reason: str = "malformed") -> None:
        rows.append(None)
        rejections.append(Rejection(first_index + k, field, reason, why))

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
        except json.JSONDecodeError as exc:
            reject(k, f"not valid JSON: {str(exc)[:120]}")
            continue
        except ValueError as exc:  # NaN/Infinity, or an integer of more than 4,300 digits
            if (long := _long_integer(line)) is not None:
                field, digits = long
                reject(
                    k,
                    f"{field} is a number too long to read: an integer of {digits:,} digits "
                    f"(at most {sys.get_int_max_str_digits():,}), too large for any amount",
                    field,
                    "invalid_number",
                )
            else:  # CPython's own hint ("; use sys.set_int_max_str_digits()") left out
                reject(k, f"not valid JSON: {str(exc).split('; ')[0][:120]}")
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
