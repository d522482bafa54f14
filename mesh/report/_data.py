"""Reading an EffectEstimate's containers for plotting: series by name, axes from index labels."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from liftos.v1 import causal_pb2 as causal_pb


@dataclass(frozen=True, slots=True)
class Axis:
    """Positions of a series' points: dates, numbers, or category labels."""

    kind: str  # "date" | "number" | "category"
    values: tuple[object, ...]


def axis(labels: Sequence[str]) -> Axis:
    """Dates when every label is an ISO date, numbers when every label is one, else categories."""
    try:
        return Axis("date", tuple(dt.date.fromisoformat(s[:10]) for s in labels))
    except ValueError:
        pass
    try:
        return Axis("number", tuple(float(s) for s in labels))
    except ValueError:
        return Axis("category", tuple(labels))


def series(estimate: causal_pb.EffectEstimate, name: str) -> causal_pb.Series | None:
    return next((s for s in estimate.series if s.name == name), None)


def series_with_prefix(estimate: causal_pb.EffectEstimate, prefix: str) -> list[causal_pb.Series]:
    return [s for s in estimate.series if s.name.startswith(prefix)]


def positions(s: causal_pb.Series) -> list[float]:
    """Numeric x of a series: ``positions`` when sent, else the index labels as numbers."""
    if len(s.positions) == len(s.values):
        return list(s.positions)
    return [float(v) for v in axis(list(s.index)).values]  # type: ignore[arg-type]


def finite(values: Sequence[float]) -> list[float]:
    return [v if math.isfinite(v) else math.nan for v in values]


def statistic(estimate: causal_pb.EffectEstimate, name: str) -> float | None:
    value = estimate.statistics.get(name)
    return None if value is None or not math.isfinite(value) else float(value)
