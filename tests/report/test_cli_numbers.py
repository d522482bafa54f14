"""The CLI's numbers: a difference that rounds to zero prints as 0, not +0 or -0."""

from __future__ import annotations

from liftos.v1 import common_pb2 as common_pb

from mesh.cli.attribution import interval_text, number_text


def test_a_zero_difference_has_no_sign() -> None:
    assert number_text(0.0, "{:+,.0f}") == "0"
    assert number_text(-0.0, "{:+,.0f}") == "0"
    assert number_text(-0.4, "{:+,.0f}") == "0"  # rounds to zero: no change shown
    assert number_text(0.49, "{:+,.0f}") == "0"
    assert number_text(-0.001, "{:.2f}") == "0.00"
    # Non-zero values keep their sign; infinities too.
    assert number_text(-0.6, "{:+,.0f}") == "-1"
    assert number_text(1_335_634.0, "{:+,.0f}") == "+1,335,634"
    assert number_text(-1e6, "{:+,.0f}") == "-1,000,000"
    assert number_text(float("-inf"), "{:+,.0f}") == "-inf"
    assert number_text(100.0, "{:+,.0f}") == "+100"


def test_a_cut_of_a_channel_with_no_effect_prints_zero() -> None:
    # `counterfactual --set klaviyo_sms=0` on a channel whose estimate is 0: the row was
    # "-0 [-1,620,000, -0]" and the total "+0 [...]".
    row = common_pb.Interval(estimate=-0.0, lower=-1_620_000.0, upper=-0.0, level=0.9)
    assert interval_text(row, "{:+,.0f}") == "0 [-1,620,000, 0]"
    total = common_pb.Interval(estimate=0.0, lower=-1_620_000.0, upper=0.0, level=0.9)
    assert interval_text(total, "{:+,.0f}") == "0 [-1,620,000, 0]"
