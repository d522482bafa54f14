"""Amounts of a trillion and more in the CLI and the report's ticks (R30 F4: an interval of an
analysis in ×1e6 units printed "[3.17e+03B, 9.44e+03B]")."""

from __future__ import annotations

import pytest

from mesh.cli.attribution import short
from mesh.report._plan_plots import compact


@pytest.mark.parametrize(
    ("x", "cli", "tick"),
    [
        (3.17e12, "3.17T", "3.17T"),
        (9.44e15, "9,440T", "9,440T"),
        (-2.5e13, "-25T", "−25T"),
        (999_999.0, "1M", "1M"),  # rounds up into the next unit, not "1e+03k"
        (999_400.0, "999k", "999k"),
        (999.7, "1k", "1k"),
        (1_234.0, "1.23k", "1.23k"),
        (3_400_000.0, "3.4M", "3.4M"),
        (82_056_381_851_217.0, "82.1T", "82.1T"),
        (12.5, "12.5", "12.5"),
        (float("nan"), "nan", "nan"),
        (float("inf"), "inf", "inf"),
        (float("-inf"), "-inf", "−inf"),
    ],
)
def test_amounts_keep_a_unit_and_no_exponent(x: float, cli: str, tick: str) -> None:
    assert short(x) == cli
    assert compact(x) == tick
