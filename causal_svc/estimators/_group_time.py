"""Callaway & Sant'Anna (2021) group-time cells for :mod:`.staggered_did`: every ATT(g,t) as a
2×2 DiD with its influence function, their cohort-size-weighted aggregations, the multiplier
bootstrap over those influence functions, and the aggregate as a contrast of a cohort × period
regression (for the wild cluster bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from causal_svc.errors import InsufficientData

from . import _ols
from ._inference import WildBootstrap, cluster_sums, wild_cluster_bootstrap
from ._panel import PanelDesign

ControlGroup = Literal["never_treated", "not_yet_treated"]
Aggregation = Literal["simple", "group", "dynamic"]
BasePeriod = Literal["varying", "universal"]
PartEstimate = tuple[str, float, np.ndarray, int]  # (name, estimate, influence function, n)

# Mammen (1993) two-point weights: mean 0, variance 1, third moment 1 (as in the R did package).
_MAMMEN_LOW = -(np.sqrt(5) - 1) / 2
_MAMMEN_HIGH = (np.sqrt(5) + 1) / 2
_MAMMEN_P_LOW = (np.sqrt(5) + 1) / (2 * np.sqrt(5))


@dataclass(frozen=True, slots=True)
class Cells:
    """Group-time cells: ATT(g,t), their influence functions and the unit cohorts."""

    group: np.ndarray  # (K,) cohort period code g
    time: np.ndarray  # (K,) period code t
    att: np.ndarray  # (K,)
    psi: np.ndarray  # (N, K) influence functions, scaled so Var = sum(psi**2) / N**2
    nobs: np.ndarray  # (K,) treated + control units in the cell
    cohort: np.ndarray  # (N,) first treated period code per unit, inf if never
    # ATT_k = sum_i unit_weight[i, k] * (y[i, time_k] - y[i, base_k]): 1/n_g on the cohort,
    # -1/n_c on its controls
    base: np.ndarray | None = None  # (K,) base period code
    unit_weight: np.ndarray | None = None  # (N, K)


def group_time_cells(
    y: np.ndarray, cohort: np.ndarray, control_group: ControlGroup, base_period: BasePeriod
) -> tuple[Cells, int]:
    """Every identified ATT(g,t) as a 2×2 DiD of cohort g against its controls.

    Post cells (t >= g) compare t with g-1; pre cells compare t with t-1 (``varying``) or with
    g-1 (``universal``), as in the R ``did`` package. Returns the cells and the number of post
    cells that had no control units (skipped).
    """
    n, n_periods = y.shape
    rows = []
    skipped_post = 0
    for g in np.unique(cohort[np.isfinite(cohort)]).astype(int):
        in_g = cohort == g
        for t in range(n_periods):
            if t >= g:
                base = g - 1
            elif base_period == "varying":
                base = t - 1
            else:
                base = g - 1
            if base < 0 or t == base:
                continue
            if control_group == "never_treated":
                control = ~np.isfinite(cohort)
            else:
                control = ~np.isfinite(cohort) | ((cohort > max(t, base)) & (cohort != g))
            if not control.any():
                skipped_post += t >= g
                continue
            change = y[:, t] - y[:, base]
            n_g, n_c = int(in_g.sum()), int(control.sum())
            mean_g, mean_c = change[in_g].mean(), change[control].mean()
            psi = np.where(in_g, (change - mean_g) * n / n_g, 0.0) - np.where(
                control, (change - mean_c) * n / n_c, 0.0
            )
            weight = np.where(in_g, 1.0 / n_g, 0.0) - np.where(control, 1.0 / n_c, 0.0)
            rows.append((g, t, mean_g - mean_c, psi, n_g + n_c, base, weight))
    if not rows:
        raise InsufficientData(
            "staggered_did: no cohort has a comparison group in any period", subject="controls"
        )
    cells = Cells(
        group=np.array([r[0] for r in rows]),
        time=np.array([r[1] for r in rows]),
        att=np.array([r[2] for r in rows]),
        psi=np.column_stack([r[3] for r in rows]),
        nobs=np.array([r[4] for r in rows]),
        cohort=cohort,
        base=np.array([r[5] for r in rows]),
        unit_weight=np.column_stack([r[6] for r in rows]),
    )
    return cells, skipped_post


def _share_weighted(
    cohort: np.ndarray, groups: np.ndarray, theta: np.ndarray, psis: np.ndarray
) -> tuple[float, np.ndarray]:
    """Cohort-size-weighted average of ``theta`` (one estimate per entry of ``groups``, with
    influence functions ``psis`` (N, k)) and its influence function.

    The weights P(G=g)/sum P(G=g) are estimated, so the influence function adds their own
    term (Callaway & Sant'Anna 2021, eq. 3.14; the R package's ``wif``).
    """
    member = (cohort[:, None] == groups[None, :]).astype(float)  # (N, k)
    pg = member.mean(axis=0)
    total = pg.sum()
    w = pg / total
    wif = (member - pg) / total - ((member - pg).sum(axis=1, keepdims=True) * pg / total**2)
    return float(w @ theta), psis @ w + wif @ theta


def _weighted(cells: Cells, keep: np.ndarray) -> tuple[float, np.ndarray]:
    """Cohort-size-weighted average of the kept cells and its influence function."""
    idx = np.flatnonzero(keep)
    return _share_weighted(cells.cohort, cells.group[idx], cells.att[idx], cells.psi[:, idx])


def aggregate(cells: Cells, how: Aggregation) -> tuple[float, np.ndarray, list[PartEstimate]]:
    """Overall ATT, its influence function, and the intermediate estimates (name, est, psi, n)."""
    post = cells.time >= cells.group
    parts: list[PartEstimate] = []
    if how == "simple":
        est, psi = _weighted(cells, post)
        return est, psi, parts
    if how == "group":
        groups = np.unique(cells.group[post])
        for g in groups:
            sel = post & (cells.group == g)
            parts.append(
                (
                    f"group={g}",
                    float(cells.att[sel].mean()),
                    cells.psi[:, sel].mean(axis=1),
                    int((cells.cohort == g).sum()),
                )
            )
        theta = np.array([p[1] for p in parts])
        est, psi = _share_weighted(
            cells.cohort, groups, theta, np.column_stack([p[2] for p in parts])
        )
        return est, psi, parts
    parts = dynamic(cells)
    post_parts = [p for p in parts if int(p[0].split("=")[1]) >= 0]
    est = float(np.mean([p[1] for p in post_parts]))
    psi = np.mean([p[2] for p in post_parts], axis=0)
    return est, psi, parts


def dynamic(cells: Cells) -> list[PartEstimate]:
    """θ(e): cohort-size-weighted ATT(g, g+e) for every event time e."""
    e = cells.time - cells.group
    out = []
    for k in np.unique(e):
        est, psi = _weighted(cells, e == k)
        n = int(np.isin(cells.cohort, cells.group[e == k]).sum())
        out.append((f"event_time={k:+d}", est, psi, n))
    return out


def multiplier_bootstrap(
    psi: np.ndarray, cluster: np.ndarray | None, reps: int, random_state: int | None
) -> np.ndarray:
    """Draws of the estimates' deviations, (reps, k), from Mammen multipliers per cluster."""
    n = psi.shape[0]
    if cluster is not None:
        psi = cluster_sums(psi, cluster)
    rng = np.random.default_rng(random_state)
    v = np.where(rng.random((reps, psi.shape[0])) < _MAMMEN_P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH)
    return (v @ psi) / n


def aggregate_weights(cells: Cells, how: Aggregation) -> np.ndarray:
    """(K,) ω with ``aggregate(cells, how)[0] == ω @ cells.att``: the aggregations are linear
    in the ATT(g,t) given the cohorts (their cohort-share weights depend on no outcome)."""
    post = cells.time >= cells.group
    share = np.array([(cells.cohort == g).mean() for g in cells.group])
    omega = np.zeros(len(cells.att))
    if how == "simple":
        omega[post] = share[post] / share[post].sum()
    elif how == "group":
        groups = np.unique(cells.group[post])
        total = sum((cells.cohort == g).mean() for g in groups)
        for g in groups:
            sel = post & (cells.group == g)
            omega[sel] = (cells.cohort == g).mean() / total / sel.sum()
    else:
        e = cells.time - cells.group
        later = np.unique(e[e >= 0])
        for k in later:
            sel = e == k
            omega[sel] = share[sel] / share[sel].sum() / len(later)
    return omega


def cohort_period_contrast(
    cells: Cells, omega: np.ndarray, n_periods: int
) -> tuple[np.ndarray, np.ndarray]:
    """The aggregate ``ω @ att`` as a contrast of the regression of the outcome on unit effects
    and cohort × period effects: (cohort code per unit (N,), contrast (Q, n_periods)).

    Each ATT(g,t) weighs every unit of a cohort alike, so the aggregate is
    ``sum_i sum_t c[i, t] y[i, t]`` with ``c`` constant within a cohort and summing to zero
    over each unit's periods: the unit effects cancel and the aggregate is
    ``sum_q sum_t R[q, t] λ[q, t]``, ``R`` the within-cohort sum of ``c`` and λ the cohort ×
    period means. Any normalisation of λ (one period per cohort dropped) leaves it unchanged.
    """
    if cells.unit_weight is None or cells.base is None:
        raise ValueError("cells without unit weights (built by group_time_cells) have no contrast")
    n = cells.unit_weight.shape[0]
    c = np.zeros((n, n_periods))
    for k in np.flatnonzero(omega):
        w = omega[k] * cells.unit_weight[:, k]
        c[:, cells.time[k]] += w
        c[:, cells.base[k]] -= w
    codes = np.unique(cells.cohort, return_inverse=True)[1].ravel()
    contrast = np.zeros((int(codes.max()) + 1, n_periods))
    np.add.at(contrast, codes, c)
    return codes, contrast


def wild_bootstrap_aggregate(
    panel: PanelDesign, cells: Cells, how: Aggregation, alpha: float, random_state: int | None
) -> WildBootstrap:
    """The wild cluster restricted bootstrap-t of the aggregate ATT, on the regression of the
    outcome on unit effects and cohort × period effects whose contrast it is
    (:func:`cohort_period_contrast`). The unit effects are nested in the clusters, so they are
    swept out once (Roodman et al. 2019)."""
    omega = aggregate_weights(cells, how)
    codes, contrast = cohort_period_contrast(cells, omega, panel.n_periods)
    row_cohort = codes[panel.unit]
    # one column per cohort × period, period 0 dropped (λ[q, 0] = 0)
    column = row_cohort * (panel.n_periods - 1) + panel.period - 1
    x = np.zeros((len(panel.y), contrast.shape[0] * (panel.n_periods - 1)))
    on = panel.period > 0
    x[np.flatnonzero(on), column[on]] = 1.0
    swept = _ols.demean(np.column_stack([panel.y, x]), [panel.unit])
    return wild_cluster_bootstrap(
        swept[:, 0], swept[:, 1:], contrast[:, 1:].ravel(), panel.cluster, alpha=alpha,
        rng=np.random.default_rng(random_state),
    )  # fmt: skip
