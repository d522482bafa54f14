"""Bounds every text field of ingestion's requests shares."""

from __future__ import annotations

import re

from mesh.runtime.exceptions import FieldViolation

MAX_TEXT = 256  # account id, time zone, a mapping's column name, a geo key or code
COUNTRY = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2


def text_bound(value: str, field: str, violations: list[FieldViolation]) -> bool:
    """False, with a violation naming ``field``, when ``value`` is over :data:`MAX_TEXT`."""
    if len(value) > MAX_TEXT:
        violations.append(
            FieldViolation(field, f"{field} is {len(value):,} characters; at most {MAX_TEXT}")
        )
        return False
    return True
