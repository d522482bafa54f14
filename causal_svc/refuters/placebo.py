"""Placebo treatment: re-estimate with the treatment reassigned where nothing happened; the
effect should vanish.

The reassignment follows the design the method rests on (the table's ``placebo``): treatment
start dates shuffled across units for panels (one treated unit: each donor in turn), the
intervention back-dated for a single series, the outcome shuffled for IV, treatment reassigned
within periods, by cluster or across rows otherwise; a regression discontinuity gets fake cutoffs
(:mod:`.placebo_cutoff`).

Where the really treated rows stay in the placebo data (several treated units, and every
cross-section shuffle), the placebo runs on the outcome *without* the estimated effect,
``Y − θ̂·T`` (each treated row's untreated outcome imputed under a constant effect, as
randomisation-inference intervals do; Imbens & Rubin 2015, §5.7). Otherwise a real effect sits
in both placebo arms and widens their spread under the alternative: on the ``demo`` geo holdout
(20 states, 10 kept on, 60 worlds) the placebo spread averaged 1.17× the estimate's standard
error, 0.98× with the effect taken out, as on ``null`` worlds (0.92–0.99×;
``bench/calibration_registry.py --placebo-study``). Estimates with one treated unit leave that unit out instead
(Abadie et al. 2010); the single series is back-dated into its pre-period, where nothing
happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from causal_svc.estimators.result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.methods import Estimator, Placebo, method_info

from ._reestimate import (
    DEFAULT_SIMULATIONS,
    first_error,
    is_single_series,
    like,
    not_applicable,
    reestimate,
)
from .verdicts import MIN_DRAWS, fixed_placebo_verdict, random_placebo_verdict


def placebo_check(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
    rng: np.random.Generator,
) -> Check:
    """Placebo treatment: re-estimate with treatment reassigned at random; the effect should vanish.

    The reassignment follows the design: treatment start dates shuffled across units (panel;
    with one treated unit, each donor in turn becomes the placebo-treated unit, as in Abadie et
    al. 2010); the intervention back-dated into the pre-period (single series); the outcome
    shuffled (IV); treatment shuffled within time periods (repeated cross-sections), within
    clusters' assignment (cluster-assigned treatment), or across rows.
    """
    name = "Placebo treatment"
    if (skipped := not_applicable(name, CheckKind.PLACEBO_TREATMENT, estimate)) is not None:
        return skipped
    if is_single_series(frame, spec):
        draws, how = _backdated(frame, spec, n_simulations)
        if not draws:
            return Check(name, CheckKind.PLACEBO_TREATMENT, CheckOutcome.SKIPPED, how)
        errors: list[str] = []
        results = [
            r for r in (reestimate(estimator, f, s, errors) for f, s in draws) if r is not None
        ]
        return fixed_placebo_verdict(
            name, estimate, results, how + first_error(errors), len(draws), "fake dates"
        )
    placebos, how, n_draws = _placebo_frames(
        _untreated(frame, spec, estimate), spec, estimate, n_simulations, rng
    )
    errors = []
    effects = [
        e.point_estimate
        for e in (reestimate(estimator, f, s, errors) for f, s in placebos)
        if e is not None
    ]
    return random_placebo_verdict(
        name, estimate, np.asarray(effects), how + first_error(errors), n_draws
    )


def _untreated(frame: pd.DataFrame, spec: EffectSpec, estimate: EffectEstimate) -> pd.DataFrame:
    """The frame with the estimated effect taken out of the outcome, ``Y − θ̂·T``: the placebo
    arms then hold no real effect (a null distribution for the estimate's own sampling error)
    whichever rows the reassignment puts in them. Left as it is where the outcome or treatment
    is not numeric (the estimator refuses that on the real data)."""
    theta = estimate.point_estimate
    if theta == 0 or not np.isfinite(theta):
        return frame
    try:
        y = frame[spec.outcome].to_numpy(np.float64)
        t = frame[spec.treatment].to_numpy(np.float64)
    except (TypeError, ValueError):
        return frame
    # Missing outcomes stay missing; a row whose treatment is missing keeps its outcome.
    return frame.assign(**{spec.outcome: np.where(np.isfinite(t), y - theta * t, y)})


def _placebo_frames(
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    n: int,
    rng: np.random.Generator,
) -> tuple[Iterator[tuple[pd.DataFrame, EffectSpec]], str, int]:
    """(placebo frames, how they were made, how many): the frames are built one at a time as
    they are read, so memory holds one copy of the data however many draws are asked for."""
    t = spec.treatment
    if spec.unit is not None and spec.time is not None:
        unit, time = spec.unit, spec.time
        start = frame[frame[t] == 1].groupby(unit)[time].min()
        base = frame
        assignments: Iterable[pd.Series]
        if len(start) == 1:
            # Abadie et al. (2010): the real treated unit leaves the placebo runs, else its real
            # effect sits among the placebo controls and biases every placebo estimate.
            base = frame[frame[unit] != start.index[0]]
            donors = pd.unique(base[unit])
            chosen = donors if len(donors) <= n else rng.choice(donors, n, replace=False)
            assignments = [pd.Series({d: start.iloc[0]}) for d in chosen]
            count = len(chosen)
            how = (
                "with each untreated unit in turn treated from the real start date (the real "
                "treated unit left out)"
            )
        else:
            units = pd.unique(frame[unit])
            starts = start.reindex(units).to_numpy()
            assignments = (pd.Series(rng.permutation(starts), index=units) for _ in range(n))
            count = n
            how = "with treatment start dates shuffled across units"

        def staggered() -> Iterator[tuple[pd.DataFrame, EffectSpec]]:
            for a in assignments:
                new_start = base[unit].map(a)
                mask = new_start.notna()
                values = np.zeros(len(base))
                values[mask.to_numpy()] = (base.loc[mask, time] >= new_start[mask]).to_numpy()
                yield base.assign(**{t: like(values, base[t])}), spec

        return staggered(), how, count
    if method_info(estimate.method).placebo is Placebo.SHUFFLE_OUTCOME or spec.instruments:
        how = "with the outcome shuffled (IV keeps its first stage; the reduced form is zero)"
        return ((_shuffled(frame, spec.outcome, rng, None), spec) for _ in range(n)), how, n
    if spec.time is not None:
        within = spec.time
        how = "with treatment shuffled within each time period"
        return ((_shuffled(frame, t, rng, within), spec) for _ in range(n)), how, n
    cluster = spec.cluster
    if cluster is not None and bool((frame.groupby(cluster)[t].nunique() <= 1).all()):
        level = frame.groupby(cluster)[t].first()
        how = "with treatment reassigned across clusters"

        def by_cluster() -> Iterator[tuple[pd.DataFrame, EffectSpec]]:
            for _ in range(n):
                a = pd.Series(rng.permutation(level.to_numpy()), index=level.index)
                yield frame.assign(**{t: like(frame[cluster].map(a), frame[t])}), spec

        return by_cluster(), how, n
    how = "with treatment shuffled across rows"
    return ((_shuffled(frame, t, rng, None), spec) for _ in range(n)), how, n


def _backdated(
    frame: pd.DataFrame, spec: EffectSpec, n: int
) -> tuple[list[tuple[pd.DataFrame, EffectSpec]], str]:
    assert spec.time is not None
    per_time = frame.groupby(spec.time)[spec.treatment].first().sort_index()
    treated_times = per_time.index[per_time.to_numpy() == 1]
    if len(treated_times) == 0:
        return [], "The treatment never starts, so there is nothing to back-date."
    pre = per_time.index[per_time.index < treated_times.min()]
    # Fake starts in the second half of the pre-period. Each placebo-post window is at least as
    # long as the real post period or a quarter of the pre-period (whichever is shorter): very
    # short windows give erratic estimates and standard errors.
    min_post = max(2, min(len(treated_times), len(pre) // 4))
    candidates = pre[len(pre) // 2 : len(pre) - min_post + 1]
    if len(candidates) < MIN_DRAWS:
        return [], (
            f"Only {len(pre)} pre-intervention periods: too few to back-date the intervention "
            "for an in-time placebo."
        )
    idx = np.unique(
        np.linspace(0, len(candidates) - 1, min(n, len(candidates))).round().astype(int)
    )
    sub = frame[frame[spec.time] < treated_times.min()]
    dtype = frame[spec.treatment].dtype
    draws = [
        (sub.assign(**{spec.treatment: (sub[spec.time] >= candidates[i]).astype(dtype)}), spec)
        for i in idx
    ]
    return draws, "with the intervention back-dated into the pre-period (in-time placebo)"


def _shuffled(
    frame: pd.DataFrame, column: str, rng: np.random.Generator, within: str | None
) -> pd.DataFrame:
    values = frame[column].to_numpy().copy()
    if within is None:
        return frame.assign(**{column: like(rng.permutation(values), frame[column])})
    for rows in frame.groupby(within, sort=False).indices.values():
        values[rows] = rng.permutation(values[rows])
    return frame.assign(**{column: like(values, frame[column])})
