"""R6-F17: klaviyo email's response curve ran to 1B under "Spend over the period (USD)",
though the channel has no spend (its input is sends): its panel says so, and so does the
axis label."""

from __future__ import annotations

from liftos.v1 import causal_pb2 as causal_pb

from mesh.report._plan_plots import response_curves


def _curve(channel: str, top: float) -> causal_pb.ResponseCurve:
    xs = [top * k / 4 for k in range(5)]
    ys = [x * 0.5 for x in xs]
    return causal_pb.ResponseCurve(channel=channel, spend=xs, outcome=ys, lower=ys, upper=ys)


def test_a_channel_without_spend_is_not_drawn_as_spend() -> None:
    curves = [_curve("meta_prospecting", 4e6), _curve("klaviyo_email", 1e9)]
    fig = response_curves(curves, {"meta_prospecting": 3e6, "klaviyo_email": 0.0}, {}, "USD",
                          "Incremental revenue (USD)")  # fmt: skip
    titles = {ax.get_title() for ax in fig.axes if ax.get_visible()}
    assert "klaviyo_email\nno spend: x is its input" in titles
    assert "meta_prospecting" in titles
    label = fig._supxlabel.get_text()  # type: ignore[attr-defined]
    assert "a channel without spend: its input, e.g. sends" in label
