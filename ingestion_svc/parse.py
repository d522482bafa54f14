"""Raw rows as received → Python objects, one malformed row at a time rejected, not the batch."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ingestion_svc.model import Rejection

__all__ = ["parse_json_rows"]


def _no_constants(name: str) -> Any:
    # NaN / Infinity are not JSON (RFC 8259); Python's parser would accept them.
    raise ValueError(f"{name} is not a JSON value")


def parse_json_rows(
    lines: Sequence[str], *, first_index: int = 0
) -> tuple[list[dict[str, Any] | None], list[bytes], list[Rejection]]:
    """Parse JSON lines; returns (rows, raw bytes, rejections).

    A line that is not valid JSON, or valid JSON but not an object, becomes ``None`` in
    ``rows`` and a ``malformed`` rejection at index ``first_index + position``.
    """
    rows: list[dict[str, Any] | None] = []
    rejections: list[Rejection] = []
    loads = json.loads
    for k, line in enumerate(lines):
        try:
            value = loads(line, parse_constant=_no_constants)
        except ValueError as exc:
            rows.append(None)
            rejections.append(
                Rejection(first_index + k, "", "malformed", f"not valid JSON: {str(exc)[:120]}")
            )
            continue
        if type(value) is not dict:
            rows.append(None)
            rejections.append(
                Rejection(first_index + k, "", "malformed", "row is not a JSON object")
            )
            continue
        rows.append(value)
    return rows, [line.encode() for line in lines], rejections


def canonical_json(rows: Iterable[dict[str, Any]]) -> list[bytes]:
    """The bytes a structured row is hashed as (sorted keys, compact)."""
    return [json.dumps(r, sort_keys=True, separators=(",", ":")).encode() for r in rows]
