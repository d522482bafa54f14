"""Callaway & Sant'Anna (2021) group-time cells for :mod:`.staggered_did`: every ATT(g,t) as a
2×2 DiD with its influence function, their cohort-size-weighted aggregations, and the
multiplier bootstrap over those influence functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from causal_svc.errors import InsufficientData

from ._inference import cluster_sums

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
            rows.append((g, t, mean_g - mean_c, psi, n_g + n_c))
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
