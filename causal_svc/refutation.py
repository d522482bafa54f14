"""Refutation checks run on every estimate: try to break it, and say in words whether it broke.

DoWhy's refuters (placebo treatment, random common cause, data subset) with three changes:

- every interpretation says which direction of its p-value is good (DoWhy users keep asking);
- every perturbation respects the design: panels shuffle treatment start dates across units (one
  treated unit: each donor in turn, the real one left out), a single series is back-dated, an
  RDD gets placebo cutoffs, IV shuffles the outcome (shuffled treatment leaves 2SLS without a
  first stage), cluster-assigned treatment is reassigned by cluster;
- the verdicts are tests with stated levels: random placebos are a null distribution for the
  real estimate (t predictive interval for few draws), placebos at fixed places (fake dates,
  fake cutoffs) overlap and are combined by Simes' test instead, and subset estimates are held
  to the sampling error an f-share subset should have, SE·√(1/f − 1).

Refuters re-run the estimator (``n_simulations`` times each), so they cost a multiple of one
estimate; the default is small, and every draw is seeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.methods import Placebo, method_info
from causal_svc.sensitivity import DESIGN_METHODS, sensitivity_check, sensitivity_figures
from mesh.errors import LiftosError

__all__ = [
    "DEFAULT_KINDS",
    "DEFAULT_SIMULATIONS",
    "Estimator",
    "data_subset_check",
    "placebo_check",
    "placebo_cutoff_check",
    "random_common_cause_check",
    "run_checks",
]

Estimator = Callable[[pd.DataFrame, EffectSpec], EffectEstimate]

DEFAULT_SIMULATIONS = 10
DEFAULT_KINDS = (
    CheckKind.PLACEBO_TREATMENT,
    CheckKind.RANDOM_COMMON_CAUSE,
    CheckKind.DATA_SUBSET,
    CheckKind.SENSITIVITY,
)
# Level of the checks' own tests (placebo centring, subset drift). Strict,
# because every estimate runs several checks and one failure withdraws support: a sound estimate
# should almost never be flagged, while a biased estimator or an unstable estimate misses by far
# more than this. Measured on 150 simulated sound estimates at 10 draws: the centring t and the
# drift z have tails close to their reference distributions.
CHECK_LEVEL = 0.001
# Subset estimates scattering this many times more than the estimate's SE implies mean the SE
# is understated or a few observations drive the result.
MAX_SUBSET_DISPERSION = 2.0
# Placebos at fixed places (fake cutoffs, fake dates) fail when their combined (Simes) p-value
# falls below this: one placebo at p < 0.01/n, or two at p < 0.02/n, and so on.
EXCESS_LEVEL = 0.01
_MIN_DRAWS = 3


def run_checks(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
    seed: int = 0,
    kinds: Collection[CheckKind] = DEFAULT_KINDS,
    subset_fraction: float = 0.8,
    rcc_tolerance: float = 0.5,
) -> EffectEstimate:
    """``estimate`` with the requested refutation and sensitivity checks appended.

    Parameters
    ----------
    estimator : callable ``(frame, spec) -> EffectEstimate``
        The estimator that produced ``estimate`` (options bound, e.g. with ``functools.partial``).
    frame : DataFrame, shape (n_rows, n_columns)
    spec : EffectSpec
    estimate : EffectEstimate
    n_simulations : int
        Re-estimates per refuter (cost: up to 3 × ``n_simulations`` estimator calls).
    seed : int
        Each check draws from its own stream derived from ``seed``, so adding a check does not
        change another's draws.
    kinds : collection of CheckKind
        Any of PLACEBO_TREATMENT, RANDOM_COMMON_CAUSE, DATA_SUBSET, SENSITIVITY.
    subset_fraction : float
        Share of rows (units, clusters) kept in each data subset.
    rcc_tolerance : float
        Largest mean move, in standard errors, allowed when a random covariate is added.

    Returns
    -------
    EffectEstimate
        With the checks appended and the sensitivity figures in ``statistics``.
    """
    if n_simulations < 1:
        raise InvalidSpec("n_simulations must be at least 1", field="n_simulations")
    if not 0 < subset_fraction < 1:
        raise InvalidSpec("subset_fraction must lie in (0, 1)", field="subset_fraction")
    checks: list[Check] = []
    statistics = dict(estimate.statistics)
    for kind in kinds:
        rng = np.random.default_rng([seed, list(CheckKind).index(kind)])
        if kind is CheckKind.PLACEBO_TREATMENT:
            placebo = method_info(estimate.method).placebo
            if spec.running_variable is not None or placebo is Placebo.FAKE_CUTOFFS:
                checks.append(
                    placebo_cutoff_check(
                        estimator, frame, spec, estimate, n_simulations=n_simulations
                    )
                )
            else:
                checks.append(
                    placebo_check(
                        estimator, frame, spec, estimate, n_simulations=n_simulations, rng=rng
                    )
                )
        elif kind is CheckKind.RANDOM_COMMON_CAUSE:
            checks.append(
                random_common_cause_check(
                    estimator,
                    frame,
                    spec,
                    estimate,
                    n_simulations=n_simulations,
                    rng=rng,
                    tolerance=rcc_tolerance,
                )
            )
        elif kind is CheckKind.DATA_SUBSET:
            checks.append(
                data_subset_check(
                    estimator,
                    frame,
                    spec,
                    estimate,
                    n_simulations=n_simulations,
                    rng=rng,
                    fraction=subset_fraction,
                )
            )
        elif kind is CheckKind.SENSITIVITY:
            checks.append(sensitivity_check(estimate, frame=frame, spec=spec))
            if estimate.method not in DESIGN_METHODS:
                figures = sensitivity_figures(estimate, frame=frame, spec=spec)
                statistics.update(figures.as_statistics())
        else:
            raise InvalidSpec(f"{kind.value} is not a refutation check", field="checks")
    return replace(estimate.with_checks(checks), statistics=statistics)


# -- placebo -----------------------------------------------------------------------------------


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
    if _is_single_series(frame, spec):
        draws, how = _backdated(frame, spec, n_simulations)
        if not draws:
            return Check(name, CheckKind.PLACEBO_TREATMENT, CheckOutcome.SKIPPED, how)
        errors: list[str] = []
        results = [
            r for r in (_reestimate(estimator, f, s, errors) for f, s in draws) if r is not None
        ]
        return _fixed_placebo_verdict(
            name, estimate, results, how + _first(errors), len(draws), "fake dates"
        )
    placebos, how, n_draws = _placebo_frames(frame, spec, estimate, n_simulations, rng)
    errors = []
    effects = [
        e.point_estimate
        for e in (_reestimate(estimator, f, s, errors) for f, s in placebos)
        if e is not None
    ]
    return _placebo_verdict(name, estimate, np.asarray(effects), how + _first(errors), n_draws)


def placebo_cutoff_check(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
) -> Check:
    """RDD placebo: fake cutoffs inside each side of the real one should show no jump.

    Fake cutoffs sit at evenly spaced quantiles (25%–75%) of the running variable on each side,
    each estimated on that side's data only, so the real discontinuity never enters
    (Cattaneo, Idrobo & Titiunik 2020, §5.2). The treatment is set to the fake-cutoff indicator.
    FAILED when the placebo jumps are jointly significant (Simes' test at ``EXCESS_LEVEL``);
    PASSED when none stands out and the real jump is significant.
    """
    name = "Placebo cutoffs"
    if spec.running_variable is None or spec.cutoff is None:
        return Check(
            name,
            CheckKind.PLACEBO_TREATMENT,
            CheckOutcome.SKIPPED,
            "No running variable and cutoff.",
        )
    r = frame[spec.running_variable]
    per_side = max(1, math.ceil(n_simulations / 2))
    results: list[EffectEstimate] = []
    errors: list[str] = []
    tried = 0
    for side in (frame[r < spec.cutoff], frame[r >= spec.cutoff]):
        values = side[spec.running_variable]
        for c in (
            np.unique(np.quantile(values, np.linspace(0.25, 0.75, per_side))) if len(side) else []
        ):
            tried += 1
            fake = side.assign(
                **{spec.treatment: (values >= c).astype(frame[spec.treatment].dtype)}
            )
            result = _reestimate(estimator, fake, replace(spec, cutoff=float(c)), errors)
            if result is not None:
                results.append(result)
    how = "at placebo cutoffs inside each side of the real one" + _first(errors)
    return _fixed_placebo_verdict(name, estimate, results, how, tried, "fake cutoffs")


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
                yield base.assign(**{t: _like(values, base[t])}), spec

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
                yield frame.assign(**{t: _like(frame[cluster].map(a), frame[t])}), spec

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
    if len(candidates) < _MIN_DRAWS:
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
        return frame.assign(**{column: _like(rng.permutation(values), frame[column])})
    for rows in frame.groupby(within, sort=False).indices.values():
        values[rows] = rng.permutation(values[rows])
    return frame.assign(**{column: _like(values, frame[column])})


def _like(values: np.ndarray | pd.Series, column: pd.Series) -> pd.Series:
    """``values`` as a column aligned with, and of the same dtype as, ``column``."""
    return pd.Series(np.asarray(values), index=column.index).astype(column.dtype)


def _fixed_placebo_verdict(
    name: str,
    real: EffectEstimate,
    results: list[EffectEstimate],
    how: str,
    tried: int,
    where: str,
) -> Check:
    """Verdict for placebos at fixed places (fake dates, fake cutoffs).

    Such placebos overlap and are strongly correlated, so their spread understates sampling
    error and cannot serve as a null distribution; each placebo's own test is used instead, and
    they are combined by Simes' test (Simes 1986), which stays valid under the positive
    dependence overlapping placebos have, where a binomial count of significant ones would not.
    """
    n = len(results)
    if n < _MIN_DRAWS:
        return Check(
            name,
            CheckKind.PLACEBO_TREATMENT,
            CheckOutcome.SKIPPED,
            f"Only {n} of {tried} placebo re-estimates succeeded {how}: too few to judge.",
        )
    effects = np.array([e.point_estimate for e in results])
    pvals = np.sort([e.pvalue for e in results])
    n_sig = int((pvals < real.alpha).sum())
    p_excess = float(min(1.0, np.min(pvals * n / np.arange(1, n + 1))))  # Simes
    lead = (
        f"Re-estimated {n} times {how}"
        + (f" ({tried - n} re-estimates failed)" if tried > n else "")
        + f": placebo effects average {effects.mean():.4g} (from {effects.min():.4g} to "
        f"{effects.max():.4g}), against the real estimate {real.point_estimate:.4g}; {n_sig} of "
        f"{n} are significant at α={real.alpha:g} (chance alone gives about {real.alpha * n:.1f})."
    )
    if p_excess < EXCESS_LEVEL:
        outcome = CheckOutcome.FAILED
        tail = (
            f" Effects appear at {where} where nothing happened (combined p = {p_excess:.3g}; a "
            "small p-value is bad here), so the real estimate may not be the treatment's effect."
        )
    elif real.pvalue < real.alpha:
        outcome = CheckOutcome.PASSED
        tail = (
            f" Good: the real estimate is significant while the {where} show no more than chance "
            f"(combined p = {p_excess:.3g}; a large p-value is good here)."
        )
    else:
        outcome = CheckOutcome.WARNING
        tail = (
            " The real estimate is not significant either: there is no clear evidence of an effect."
        )
    return Check(
        name,
        CheckKind.PLACEBO_TREATMENT,
        outcome,
        lead + tail,
        statistic=n_sig / n,
        pvalue=p_excess,
        threshold=EXCESS_LEVEL,
        new_effect=float(effects.mean()),
    )


def _placebo_verdict(
    name: str, real: EffectEstimate, effects: np.ndarray, how: str, tried: int
) -> Check:
    n = len(effects)
    failed = tried - n
    if n < _MIN_DRAWS:
        return Check(
            name,
            CheckKind.PLACEBO_TREATMENT,
            CheckOutcome.SKIPPED,
            f"Only {n} of {tried} placebo re-estimates succeeded {how}: too few to judge.",
        )
    theta = real.point_estimate
    mean, sd = float(effects.mean()), float(effects.std(ddof=1))
    share = float(np.mean(np.abs(effects) >= abs(theta)))
    if sd == 0:
        p, p_centre = (1.0 if theta == mean else 0.0), (1.0 if mean == 0 else 0.0)
    else:
        # With few draws the placebo spread is itself estimated: a t predictive interval.
        if n >= 100:
            p = (1 + np.sum(np.abs(effects - mean) >= abs(theta - mean))) / (n + 1)
        else:
            p = 2 * stats.t.sf(abs(theta - mean) / (sd * math.sqrt(1 + 1 / n)), n - 1)
        p_centre = 2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1)
    p, p_centre = float(p), float(p_centre)
    lead = (
        f"Re-estimated {n} times {how}"
        + (f" ({failed} re-estimates failed)" if failed else "")
        + f": placebo effects average {mean:.4g} (spread {sd:.4g}); {100 * share:.0f}% are at "
        f"least as large as the real estimate {theta:.4g} (p = {p:.3g})."
    )
    if p_centre < CHECK_LEVEL:
        outcome = CheckOutcome.FAILED
        tail = (
            f" The placebo effects are not centred on zero (p = {p_centre:.3g}): the estimator "
            "finds an effect even where treatment is random, so the real estimate carries a bias "
            "of about that size."
        )
    elif p <= real.alpha:
        outcome = CheckOutcome.PASSED
        tail = (
            " A small p-value is good here: the real effect stands out from what random "
            "assignment produces."
        )
    elif real.pvalue < real.alpha:
        outcome = CheckOutcome.FAILED
        tail = (
            " A large p-value is bad here: random reassignment produces effects this large, "
            "although the estimate's own test calls it significant, so its standard error is "
            "likely too small and the effect may be noise."
        )
    else:
        outcome = CheckOutcome.WARNING
        tail = (
            " The real estimate is within the placebo range, consistent with its own test: there "
            "is no clear evidence of an effect."
        )
    return Check(
        name,
        CheckKind.PLACEBO_TREATMENT,
        outcome,
        lead + tail,
        statistic=share,
        pvalue=p,
        threshold=real.alpha,
        new_effect=mean,
    )


# -- random common cause -----------------------------------------------------------------------


def random_common_cause_check(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
    rng: np.random.Generator,
    tolerance: float = 0.5,
) -> Check:
    """Add a pure-noise covariate; a sound estimate barely moves.

    ``statistic`` is the mean absolute move in standard errors: PASSED up to ``tolerance``,
    WARNING up to twice that (nearest-neighbour matching, for one, re-matches on the noise),
    FAILED beyond.
    """
    name = "Random common cause"
    kind = CheckKind.RANDOM_COMMON_CAUSE
    not_applicable = method_info(estimate.method).not_applicable.get(kind)
    if not_applicable is not None:
        return Check(name, kind, CheckOutcome.SKIPPED, not_applicable)
    if not (np.isfinite(estimate.stderr) and estimate.stderr > 0):
        return Check(name, kind, CheckOutcome.SKIPPED, "The estimate has no finite standard error.")
    column = _fresh_name(frame, "random_common_cause")
    new_spec = replace(spec, covariates=(*spec.covariates, column))
    effects = []
    errors: list[str] = []
    for _ in range(n_simulations):
        noisy = frame.assign(**{column: rng.standard_normal(len(frame))})
        result = _reestimate(estimator, noisy, new_spec, errors)
        if result is not None:
            effects.append(result.point_estimate)
    if not effects:
        return Check(
            name,
            kind,
            CheckOutcome.SKIPPED,
            f"Every re-estimate with an added covariate failed{_first(errors)}.",
        )
    moves = np.abs(np.asarray(effects) - estimate.point_estimate) / estimate.stderr
    shift = float(moves.mean())
    lead = (
        f"Adding a random covariate (pure noise, so it cannot be a confounder) moved the estimate "
        f"by {shift:.2f} standard errors on average over {len(effects)} draws "
        f"(new estimates average {np.mean(effects):.4g} against {estimate.point_estimate:.4g})."
    )
    if shift <= tolerance:
        outcome = CheckOutcome.PASSED
        tail = f" Small moves are good: within the tolerance of {tolerance:g} SE."
    elif shift <= 2 * tolerance:
        outcome = CheckOutcome.WARNING
        tail = (
            f" That exceeds the tolerance of {tolerance:g} SE: the estimate is sensitive to which "
            "covariates are included, even irrelevant ones; read it with that in mind."
        )
    else:
        outcome = CheckOutcome.FAILED
        tail = (
            f" That is more than twice the tolerance of {tolerance:g} SE: the estimate depends on "
            "arbitrary modelling choices, not only on the data."
        )
    return Check(
        name,
        kind,
        outcome,
        lead + tail,
        statistic=shift,
        threshold=tolerance,
        new_effect=float(np.mean(effects)),
    )


# -- data subsets ------------------------------------------------------------------------------


def data_subset_check(
    estimator: Estimator,
    frame: pd.DataFrame,
    spec: EffectSpec,
    estimate: EffectEstimate,
    *,
    n_simulations: int = DEFAULT_SIMULATIONS,
    rng: np.random.Generator,
    fraction: float = 0.8,
) -> Check:
    """Re-estimate on random subsets; they should agree with the full estimate within sampling error.

    Units (panel) or clusters are sampled whole, stratified by treatment so each subset keeps
    treated and control. A subset of share f differs from the full-sample estimate with SD
    ``SE·√(1/f − 1)``, and independent subsets' deviations are nearly uncorrelated, so the mean
    subset estimate should lie within sampling error of the full one, and the subset estimates
    should scatter no more than ``MAX_SUBSET_DISPERSION`` times that SD.
    """
    name = "Data subsets"
    kind = CheckKind.DATA_SUBSET
    if _is_single_series(frame, spec):
        return Check(
            name,
            kind,
            CheckOutcome.SKIPPED,
            "A single time series cannot lose random periods without breaking the series.",
        )
    if not (np.isfinite(estimate.stderr) and estimate.stderr > 0):
        return Check(name, kind, CheckOutcome.SKIPPED, "The estimate has no finite standard error.")
    group = spec.unit or spec.cluster
    keys = (
        frame[group] if group is not None else pd.Series(np.arange(len(frame)), index=frame.index)
    )
    treated_any = frame[spec.treatment].groupby(keys.to_numpy()).max()
    strata = [treated_any.index[treated_any.to_numpy() == v] for v in pd.unique(treated_any)]
    if treated_any.nunique() > 2:  # continuous treatment: no strata
        strata = [treated_any.index]
    effects = []
    errors: list[str] = []
    for _ in range(n_simulations):
        kept = np.concatenate(
            [rng.choice(s, max(1, round(fraction * len(s))), replace=False) for s in strata]
        )
        result = _reestimate(estimator, frame[keys.isin(kept).to_numpy()], spec, errors)
        if result is not None:
            effects.append(result.point_estimate)
    failed = n_simulations - len(effects)
    if len(effects) < _MIN_DRAWS:
        return Check(
            name,
            kind,
            CheckOutcome.WARNING,
            f"The estimator failed on {failed} of {n_simulations} random {100 * fraction:.0f}% "
            f"subsets{_first(errors)}: the estimate needs nearly all of the data.",
        )
    arr = np.asarray(effects)
    expected = estimate.stderr * math.sqrt(1 / fraction - 1)
    z = (arr.mean() - estimate.point_estimate) / (expected / math.sqrt(len(arr)))
    p = float(2 * stats.norm.sf(abs(z)))
    dispersion = float(arr.std(ddof=1) / expected)
    lead = (
        f"On {len(arr)} random {100 * fraction:.0f}% subsets"
        + (f" ({failed} failed)" if failed else "")
        + f" the estimate averaged {arr.mean():.4g} (full data {estimate.point_estimate:.4g}, "
        f"p = {p:.3g} for a drift; a large p-value is good here) and scattered {dispersion:.2f} "
        "times as much as its standard error implies (about 1 is good)."
    )
    if p < CHECK_LEVEL:
        outcome, tail = (
            CheckOutcome.FAILED,
            " The subsets drift away from the full estimate: it is unstable.",
        )
    elif dispersion > MAX_SUBSET_DISPERSION:
        outcome, tail = (
            CheckOutcome.FAILED,
            " The scatter is too wide: the standard error is understated or a few observations "
            "drive the result.",
        )
    else:
        outcome, tail = CheckOutcome.PASSED, " The estimate holds on subsets of the data."
    return Check(
        name,
        kind,
        outcome,
        lead + tail,
        statistic=float(z),
        pvalue=p,
        threshold=MAX_SUBSET_DISPERSION,
        new_effect=float(arr.mean()),
    )


# -- helpers -----------------------------------------------------------------------------------


def _reestimate(
    estimator: Estimator, frame: pd.DataFrame, spec: EffectSpec, errors: list[str]
) -> EffectEstimate | None:
    """The estimator's result, or None (the reason appended to ``errors``) when it refuses this
    perturbed data with a domain error or gives a non-finite estimate."""
    try:
        result = estimator(frame, spec)
    except (LiftosError, np.linalg.LinAlgError) as exc:
        errors.append(str(exc))
        return None
    if not np.isfinite(result.point_estimate):
        errors.append("the estimate was not finite")
        return None
    return result


def _first(errors: list[str]) -> str:
    return f" (first error: {errors[0]})" if errors else ""


def _is_single_series(frame: pd.DataFrame, spec: EffectSpec) -> bool:
    """One series over time: no unit, and the treatment is the same for every row of a period."""
    return (
        spec.unit is None
        and spec.time is not None
        and bool((frame.groupby(spec.time)[spec.treatment].nunique() <= 1).all())
    )


def _fresh_name(frame: pd.DataFrame, base: str) -> str:
    name = f"_{base}"
    while name in frame.columns:
        name = f"_{name}"
    return name
