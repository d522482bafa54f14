"""What a benchmark hands to ``make bench``: each headline figure beside its reference.

A bench calls :func:`figure` for the numbers it claims; run alone it only prints them, run by
``bench/suite.py`` (which sets ``LIFTOS_BENCH_FIGURES`` to a file) it also appends one JSON
line per figure there, so the suite's table is built from what the bench measured in that run
and never from a copy of its printout.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, SupportsFloat

ENV = "LIFTOS_BENCH_FIGURES"


def figure(
    name: str,
    value: SupportsFloat,
    unit: str,
    *,
    reference: str = "",
    reference_value: SupportsFloat | None = None,
    target: str = "",
    met: object = None,
    note: str = "",
) -> dict[str, Any]:
    """Record one figure. ``reference``/``reference_value``: what it is compared against,
    measured in the same run (the ratio is value / reference_value); ``target`` and ``met``:
    the promise it is held to, where there is one (any truthy value: numpy's bools too)."""
    # numpy scalars in, plain JSON numbers out
    v = float(value)
    ref = None if reference_value is None else float(reference_value)
    ratio = v / ref if ref not in (None, 0.0) and math.isfinite(v) else None
    row = {
        "name": name,
        "value": v,
        "unit": unit,
        "reference": reference,
        "reference_value": ref,
        "ratio": ratio,
        "target": target,
        "met": None if met is None else bool(met),
        "note": note,
    }
    path = os.environ.get(ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    return row
