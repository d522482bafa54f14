"""s21 P1: where a user reads a channel's caveat, a channel whose effect is mostly the prior's
(``ChannelResponseModel.data_share`` under ``MIN_DATA_SHARE``) says so: `liftos analyze`'s
table flags its row and the report's health block names it, since Recommend and OptimizeBudget
move no money on it. An analysis stored before the field shows nothing new."""

from __future__ import annotations

import liftos_dc.liftos.v1 as dc
import pytest
from liftos.v1 import causal_pb2 as causal_pb

from mesh.cli.attribution import print_result
from mesh.report import plan
from mesh.runtime import data_share
from tests.llm.support import audit_demo


def _result(shares: bool) -> causal_pb.AttributionResult:
    """The audit's demo analysis with a planning model per channel (it has none), meta
    retargeting's 3% of its precision from the data (``shares``; else unset)."""
    r = audit_demo(calibrated=True).attribution
    for c in r.channels:
        m = r.response_models.add(channel=c.channel, reference_spend=c.spend.amount or 1.0,
                                  period_days=120, scale=[1.0], half_saturation=[1.0],
                                  shape=[1.0], nodes=[1.0], node_weights=[1.0], identified=True)  # fmt: skip
        if shares:
            m.data_share = 0.03 if c.channel == "meta_retargeting" else 0.9
    return r


def test_the_report_keeps_the_runtimes_threshold() -> None:
    # the report imports only the wire messages, so it keeps its own copy
    assert plan.MIN_DATA_SHARE == data_share.MIN_DATA_SHARE


def test_analyze_flags_a_row_that_is_mostly_the_prior(capsys: pytest.CaptureFixture[str]) -> None:
    r = _result(shares=True)
    assert "meta_retargeting" in {m.channel for m in r.response_models}
    print_result(dc.AttributionResult.parse(r.SerializeToString()))
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if line.startswith("meta_retargeting "))
    assert row.endswith("  (mostly the prior: 3% from the data)"), row
    others = [line for line in out if line.startswith("meta_prospecting ")]
    assert others and "mostly the prior" not in others[0]
    assert any(line.startswith("(mostly the prior: under 20% of the effect's precision comes "
                               "from the data and lift tests; recommend and optimize move no "
                               "money on it") for line in out)  # fmt: skip


def test_an_analysis_stored_before_the_share_shows_nothing_new(
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = _result(shares=False)
    print_result(dc.AttributionResult.parse(r.SerializeToString()))
    assert "mostly the prior" not in capsys.readouterr().out
    assert "Mostly the prior" not in plan._health(r)


def test_the_reports_health_names_it() -> None:
    html = plan._health(_result(shares=True))
    assert ("<p>Mostly the prior's (under 20% of the effect's precision from the data; "
            "Recommend and OptimizeBudget move no money on them, a lift test would measure "
            "them): meta_retargeting (3%).</p>") in html  # fmt: skip
