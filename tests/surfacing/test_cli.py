"""The surfacing CLI's own parsing: what it refuses before any call."""

from __future__ import annotations

import pytest

from mesh.cli import commands as cli


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["optimize", "an-1", "--budget", "1e6", "--bound", "meta=0.5:2", "--bound", "meta=1:3"],
         "--bound"),
        (["optimize", "an-1", "--budget", "1e6", "--spend-bound", "meta=:10",
          "--spend-bound", "meta= 5:"], "--spend-bound"),
        (["optimize", "an-1", "--budget", "1e6", "--cost", "email=1", "--cost", "email=2"],
         "--cost"),
        (["optimize", "an-1", "--budget", "1e6", "--campaign-bound", "c1=0:1",
          "--campaign-bound", "c1=1:2"], "--campaign-bound"),
        (["predict", "an-1", "--days", "7", "--daily", "tiktok=1", "--daily", "tiktok=1e9"],
         "--daily"),
        (["predict", "an-1", "--days", "7", "--set", "meta=0", "--set", " meta=2"], "--set"),
    ],
)  # fmt: skip
def test_a_channel_given_twice_by_one_flag_is_refused(argv: list[str], flag: str) -> None:
    # Before: the last one won silently (the server's own duplicate check never saw both).
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert str(info.value).startswith(f"error: {flag} names ") and "more than once" in str(
        info.value
    )


def test_optimize_without_a_budget_names_the_cli_flags_before_any_call() -> None:
    # R18-F15: the refusal named the request's fields total_budget / target_marginal_roas.
    # No server runs here: the CLI refuses before it connects.
    with pytest.raises(SystemExit) as info:
        cli.main(["optimize", "an-1", "--base-port", "1"])
    said = str(info.value)
    assert said.startswith("error: --budget is required") and "--target-roas" in said
    assert "total_budget" not in said and "target_marginal_roas" not in said


def test_a_percentage_that_rounds_to_zero_has_no_sign() -> None:
    # R20-F5/F7: "-0%" for no change. The design table's lifts and the optimize change.
    from mesh.cli.surfacing import _pct

    assert [_pct(v, "+.1%") for v in (-0.0, -0.0004, 0.0004, -0.05)] == [
        "0.0%", "0.0%", "0.0%", "-5.0%"]  # fmt: skip
    assert _pct(float("nan"), ".0%") == "—"
