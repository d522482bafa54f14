"""A small attribution built by hand, for the report tests about how channels are shown
(names, units, many channels): no model fit, so those tests stay fast."""

from __future__ import annotations

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb


def channel_analysis(
    names: list[str], *, outcome: common_pb.OutcomeMetric.ValueType = common_pb.OUTCOME_METRIC_REVENUE,
    roas: float = 2.0,
) -> causal_pb.Analysis:  # fmt: skip
    """A healthy attribution whose channels are ``names``, each with spend, an incremental
    outcome and returns (``roas`` times spend, the ith channel's ``roas`` scaled by i + 1)."""
    analysis = causal_pb.Analysis(analysis_id="an-chart-text", org_id="acme")
    result = analysis.attribution
    result.outcome = outcome
    result.health.verdict = causal_pb.HEALTH_VERDICT_PASS
    for i, name in enumerate(names):
        c = result.channels.add(channel=name)
        spend = 10_000.0 * (len(names) - i)
        r = roas * (i + 1)
        c.spend.amount, c.spend.currency_code = spend, "USD"
        inc = c.incremental_outcome
        inc.estimate, inc.lower, inc.upper, inc.level = (
            r * spend,
            0.5 * r * spend,
            1.5 * r * spend,
            0.9,
        )
        for iv, k in ((c.incremental_roas, 1.0), (c.marginal_roas, 0.6)):
            iv.estimate, iv.lower, iv.upper, iv.level = k * r, 0.5 * k * r, 1.5 * k * r, 0.9
        c.contribution_share = 1 / len(names)
    return analysis
