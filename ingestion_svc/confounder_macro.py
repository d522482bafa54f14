"""Macro shock: the days a registered macro index stands far from its usual level, measured
in the index's own daily steps rather than in its standard deviation.

A macro index (consumer confidence, a sentiment or price index) is persistent: it wanders
for months. Over the few months an org registers, its sample standard deviation is itself a
draw — small when the window caught a calm stretch, large when it caught a trend — so "half a
standard deviation from the mean" is a different distance in every account. The size of the
index's ordinary day-to-day step is a stable property of the series, estimated from every
day's change: the robust (MAD) standard deviation of the first differences on consecutive
days, which a rare jump does not inflate. A day is a macro shock when the index stands at
least :data:`MACRO_STEPS` such steps from the series' mean (the registry's mean of every
registered value).

Why not the z-score: on the simulator's worlds (bench/confounder_detection.py) the rule
``|z| >= 0.5`` found every day whose macro move shifts demand by 2% at 61-84% precision;
the z-threshold that balances recall and precision differs from world to world because the
sample standard deviation does. The step rule's threshold was chosen on worlds 1-3 and
20-59 (``--macro-only``), where 2.2 steps found 96.5% at 91% precision (seeds 20-59).

What the index cannot tell: how much it moves *this* org's demand. The simulator's truth
flags a day when ``macro_coef × |index − mean| >= 0.02`` with ``macro_coef`` drawn per world
from [0.03, 0.06]: in index units a threshold anywhere from 0.33 to 0.67 that no rule on the
index alone can know. At analysis time the org's orders over the window estimate it, and
``causal_svc.confounders_macro`` weighs that estimate with this rule (its prior); at ingest
one batch of one source cannot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MACRO_STEPS", "MIN_STEPS", "step_ratios"]

# Days' steps from its mean that make a macro shock (chosen on worlds 1-3 and 20-59).
MACRO_STEPS = 2.2
# Consecutive-day changes a series needs for its step size; fewer and the z-rule stands.
MIN_STEPS = 14
_MAD_TO_SD = 1.4826


def _step_size(days: np.ndarray, values: np.ndarray) -> float:
    """Robust sd of the day-to-day change over consecutive days (NaN when too few)."""
    order = np.argsort(days, kind="stable")
    d, v = days[order], values[order]
    change = np.diff(v)[np.diff(d) == 1]
    if change.size < MIN_STEPS:
        return float("nan")
    return float(_MAD_TO_SD * np.median(np.abs(change - np.median(change))))


def step_ratios(frame: pd.DataFrame) -> dict[str, float]:
    """Per macro factor name: its standard deviation over its daily step size, so that a
    row's ``zscore × ratio`` is its distance from the mean in daily steps. From the loaded
    values (``FactorTable.frame``); a name whose series are all geo-specific takes the
    median over its series. Names without a usable step size are left out."""
    out: dict[str, float] = {}
    if frame.empty:
        return out
    # plain arrays: this runs once per batch, and a groupby costs more than the arithmetic
    macro = frame["type"].to_numpy(dtype=object) == "macro"
    if not macro.any():
        return out
    names = frame["name"].to_numpy(dtype=object)[macro]
    geos = frame["geo"].to_numpy(dtype=object)[macro]
    days = frame["day"].to_numpy(np.int64)[macro]
    values = frame["value"].to_numpy(np.float64)[macro]
    stds = frame["std"].to_numpy(np.float64)[macro]
    for name in sorted(set(names.tolist())):
        mine = names == name
        national = mine & (geos == "")
        use = national if national.any() else mine
        ratios = []
        for geo in sorted(set(geos[use].tolist())):
            one = use & (geos == geo)
            step = _step_size(days[one], values[one])
            std = float(stds[one][0])
            if np.isfinite(step) and step > 0 and std > 0:
                ratios.append(std / step)
        if ratios:
            out[str(name)] = float(np.median(ratios))
    return out
