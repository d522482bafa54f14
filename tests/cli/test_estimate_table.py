"""`liftos estimate`'s table and its CSV refusals (mesh.cli.estimate)."""

from __future__ import annotations

from typing import Any

from mesh.cli.estimate import render_table


def _out(**details: Any) -> dict[str, Any]:
    """The estimate as to_json holds it."""
    return {
        "analysis_id": "a1", "method": "did", "estimand": "att", "point_estimate": 1.88576,
        "std_error": 0.0377294, "ci_lower": 1.26344, "ci_upper": 2.52999, "alpha": 0.05,
        "p_value": 6 / 216, "n": 120, "supported": True, "strategy": {"reason": "asked"},
        "checks": [], "warnings": [], "summary": "", "details": details,
    }  # fmt: skip


def test_the_se_says_it_is_cr1_when_the_interval_is_the_bootstraps() -> None:
    # R27-F1: "SE 0.0377" beside a bootstrap CI 27× wider than ±2 SE, with nothing to say why.
    table = render_table(_out(wild_bootstrap_draws=216.0, wild_bootstrap_webb=1.0))
    assert "SE (CR1; the CI and p are the wild cluster bootstrap's) 0.0377294" in table
    assert "   SE 0.0377294" in render_table(_out())


def test_a_column_of_words_is_called_categorical_not_misformatted() -> None:
    """R27-F8: 'region' (every value a word) was refused as a formatted number: "re-export the
    column unformatted"; a column with one stray word still gets that advice."""
    import argparse

    import pandas as pd

    from mesh.cli.estimate import text_in_numbers

    frame = pd.DataFrame(
        {"y": ["1.5", "2.0", "3,100", "4"], "x": [0.1, 0.2, 0.3, 0.4],
         "region": ["west", "east", "west", "north"]}
    )  # fmt: skip
    args = argparse.Namespace(
        outcome="x", running_variable=None, weights=None, pre_outcome=None, covariates="region",
        method="aipw",
    )  # fmt: skip
    said = text_in_numbers(frame, args)
    assert said is not None and "looks categorical" in said
    assert "3 levels: east, north, west" in said and "one-hot encode it (2 0/1 columns" in said
    assert text_in_numbers(frame, argparse.Namespace(**{**vars(args), "method": "dml"})) is None
    formatted = argparse.Namespace(**{**vars(args), "outcome": "y", "covariates": ""})
    assert "re-export the column unformatted" in (text_in_numbers(frame, formatted) or "")
