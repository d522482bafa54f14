"""R6-F10: the report's experiment design tests the channel Recommend would have tested (its own
test action, else a paid channel whose effect the analysis did not establish), falls back to
the widest iROAS interval only when every paid channel is established, and the page says why
that channel and at what alpha."""

from __future__ import annotations

import re
from html import unescape

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.cli.report import channel_to_test
from mesh.report import render_report
from surfacing_svc.convert.design import analysis_text
from tests.report import companions


@pytest.fixture(scope="module")
def attribution() -> causal_pb.Analysis:
    return companions.attribution_analysis()


def _paid(result: causal_pb.AttributionResult) -> list[causal_pb.ChannelAttribution]:
    return [c for c in result.channels if c.spend.amount > 0]


def _widest(result: causal_pb.AttributionResult) -> str:
    ranged = [c for c in _paid(result) if c.HasField("incremental_roas")]
    return max(ranged, key=lambda c: c.incremental_roas.upper - c.incremental_roas.lower).channel


def test_an_unestablished_channel_is_tested_before_an_established_one(attribution) -> None:
    result = causal_pb.AttributionResult()
    result.CopyFrom(attribution.attribution)
    # The audit's situation: an established channel's iROAS interval is the widest.
    first = next(c for c in _paid(result) if c.incremental_outcome.lower > 0)
    first.incremental_roas.upper = 100.0
    unproven = [c for c in _paid(result) if c.incremental_outcome.lower <= 0]
    established = [c for c in _paid(result) if c.incremental_outcome.lower > 0]
    assert unproven and established and _widest(result) in {c.channel for c in established}
    channel, why = channel_to_test(result, None)
    most = max(unproven, key=lambda c: c.spend.amount)
    assert channel == most.channel, (channel, why)
    i = most.incremental_outcome
    assert why.startswith(
        f"the analysis did not establish {channel}'s effect: its 90% interval of the incremental "
        f"outcome, {i.lower:,.0f} to {i.upper:,.0f}, includes zero (as for "
    ), why
    assert f"of these it spends the most, {most.spend.amount:,.0f} USD)" in why
    assert "Recommend does not raise such a channel, and a test would measure its effect" in why


def test_recommends_own_test_comes_first(attribution) -> None:
    result = attribution.attribution
    recs = pb.RecommendResponse()
    target = _paid(result)[-1].channel
    recs.recommendations.add(kind=pb.RECOMMENDATION_KIND_RUN_EXPERIMENT, channel=target,
                             priority=4, action=f"test {target}")  # fmt: skip
    assert channel_to_test(result, recs) == (target, f"Recommend's action #4 is to test {target}")


def test_the_widest_interval_only_when_every_channel_is_established(attribution) -> None:
    every = causal_pb.AttributionResult()
    every.CopyFrom(attribution.attribution)
    for c in every.channels:
        if c.spend.amount > 0:
            c.incremental_outcome.lower = max(c.incremental_outcome.lower, 1.0)
    channel, why = channel_to_test(every, None)
    assert channel == _widest(every)
    assert why.startswith("every paid channel's effect is established (each interval of its "
                          "incremental outcome excludes zero), so the test goes where the iROAS "
                          f"interval is widest: {channel}'s, ")  # fmt: skip


def test_the_page_says_why_that_channel_and_at_what_alpha(attribution) -> None:
    design = companions.design()
    design.analysis = analysis_text(0.05)  # the surfacing service's words
    channel, why = channel_to_test(attribution.attribution, None)
    html = render_report(attribution, design=design, design_channel=channel, design_why=why)
    start = html.index('<section id="design">')
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html[start:])).split())
    assert f"of {channel}. Chosen because {why}." in text
    assert ("one-sided test at alpha 0.05 (a 5% chance that a channel with no effect shows one) "
            "against the spread") in text  # fmt: skip
    assert not re.search(r"at alpha (?![\d])", text)


def test_the_demo_says_why_too() -> None:
    from mesh.cli.demo_plan import design

    lines: list[str] = []
    design(companions.design(), "google_search", "the analysis did not establish it", lines.append)
    assert lines[:2] == [
        "== next experiment: a geo holdout for google_search (SurfacingService.DesignExperiment)",
        "  chosen because the analysis did not establish it",
    ]
