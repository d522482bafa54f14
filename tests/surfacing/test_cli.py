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


def test_a_fact_whose_text_is_a_label_prints_its_name_and_figure() -> None:
    # R25-F4: a product action's facts printed as "- over the period (USD)", twice, with
    # neither name nor value. Built as surfacing_svc.convert.products builds them.
    import liftos_dc.liftos.v1 as dc
    from liftos.v1 import common_pb2 as common_pb
    from liftos.v1 import surfacing_pb2 as pb

    from mesh.cli.surfacing import fact_text

    def parsed(message: pb.Fact) -> dc.Fact:
        return dc.Fact.parse(message.SerializeToString())

    label = parsed(pb.Fact(name="incremental_revenue_Bags", text="over the period (USD)",
                           value=common_pb.Interval(estimate=172674.2, lower=111707.0,
                                                    upper=233642.0)))  # fmt: skip
    assert fact_text(label) == (
        "incremental_revenue_Bags: 172,674 [111,707, 233,642] — over the period (USD)")  # fmt: skip
    ratio = parsed(pb.Fact(name="marginal_margin_Outerwear", text="Outerwear on meta_catalogue (USD)",
                           value=common_pb.Interval(estimate=1.13, lower=0.41, upper=1.32)))  # fmt: skip
    assert fact_text(ratio).startswith("marginal_margin_Outerwear: 1.13 [0.41, 1.32] — Outerwear")
    # A sentence that states its figures already is printed as it is.
    sentence = parsed(pb.Fact(name="current_spend", text="meta spends 1,200 over 30 days"))
    assert fact_text(sentence) == "meta spends 1,200 over 30 days"
