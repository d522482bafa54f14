"""Checks every field of the causal service's requests shares: bounded text, finite numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from causal_svc import limits
from causal_svc.errors import InvalidSpec
from mesh.runtime.exceptions import shown


def text(value: str, field: str, limit: int = limits.MAX_NAME_CHARS) -> str:
    if len(value) > limit:
        raise InvalidSpec(
            f"{field} is {len(value):,} characters; at most {limit:,} are allowed "
            f"(starts {shown(value[:40])})",
            field=field,
        )
    return value


def texts(values: Sequence[str], field: str, most: int) -> tuple[str, ...]:
    if len(values) > most:
        raise InvalidSpec(
            f"{field} has {len(values):,} entries; at most {most:,} are allowed", field=field
        )
    return tuple(text(v, f"{field}[{i}]") for i, v in enumerate(values))


def finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise InvalidSpec(f"{field} must be a finite number, got {value}", field=field)
    return float(value)
