"""What a stored attribution analysis read (its daily national outcome and channel spend), for
:mod:`surfacing_svc.data_drift`."""

from __future__ import annotations

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from surfacing_svc.data_drift import StoredReading

__all__ = ["stored_reading"]


def stored_reading(analysis: causal_pb.Analysis) -> StoredReading | None:
    """The analysis's daily actual outcome and channel spend; None for one that kept no daily
    series (an effect estimate, or an analysis stored before the series existed)."""
    if analysis.WhichOneof("result") != "attribution":
        return None
    result = analysis.attribution
    daily = result.daily
    if not daily.dates or len(daily.dates) != len(daily.actual_outcome):
        return None
    dates = np.array(
        [f"{d.year:04d}-{d.month:02d}-{d.day:02d}" for d in daily.dates], dtype="datetime64[D]"
    )
    outcome = "conversions" if result.outcome == common_pb.OUTCOME_METRIC_CONVERSIONS else "revenue"
    return StoredReading(
        analysis_id=analysis.analysis_id, dates=dates,
        outcome=np.asarray(daily.actual_outcome, np.float64), outcome_name=outcome,
        spend={c.channel: c.spend.amount for c in result.channels},
        daily_spend={s.channel: np.asarray(s.daily, np.float64) for s in daily.spend},
        geos=tuple(daily.geos),
        geo_spend={s.channel: np.asarray(s.by_geo, np.float64) for s in daily.spend},
    )  # fmt: skip
