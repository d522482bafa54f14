"""Estimator-ready tables for the identification scenarios, each with its exact true effect.

Every true effect is computed from the simulated potential outcomes of the very units in the
table (common random numbers, see :mod:`sim.outcomes`), never from a parameter that only
approximately equals it. Outcomes are first-party revenue per 1,000 residents (org currency)
so that states of very different size are comparable.

===================  ==========  ==================  =========================================
design               estimand    method_hint         true_effect
===================  ==========  ==================  =========================================
geo_holdout          ate         difference_in_means mean over geos of Y(1) - Y(0), window total
staggered            att         staggered_did       mean over treated geo-weeks of Y(1) - Y(0)
synthetic_control    att         synthetic_control   mean over post weeks of the treated geo
rdd                  late        rdd                 mean Y(1) - Y(0) over geo-days with
                                                     |forecast - cutoff| <= 0.1 sd(forecast)
iv                   late        iv                  mean Y(1) - Y(0) over complier geo-days
observational        ate         aipw                mean Y(1) - Y(0) over all geo-days
===================  ==========  ==================  =========================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from .geo import Geo
from .orgsim import OrgSim


@dataclass(frozen=True, slots=True)
class StudyTable:
    """A table an estimator can take as is, the roles of its columns, and the truth.

    ``potential`` holds both simulated potential outcomes of each frame row (columns ``y1``,
    ``y0``, in the outcome's units): the observed outcome is ``y1`` where treated and ``y0``
    elsewhere, and ``true_effect`` is their mean difference over the estimand's rows.

    ``roles`` keys follow the causal service's ``EffectSpec`` (outcome, treatment, unit, time,
    covariates, instruments, running_variable, cutoff, cluster, pre_outcome), so
    ``EffectSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in roles.items()
    if k != "cutoff"}, cutoff=roles.get("cutoff"))`` builds the spec.
    """

    frame: pd.DataFrame
    roles: dict[str, Any]
    estimand: str
    true_effect: float
    method_hint: str
    design: str
    units: str
    truth: dict[str, Any] = field(default_factory=dict)
    potential: pd.DataFrame | None = None  # y1, y0 per frame row (same index)


def _per_k(x: np.ndarray, pop: np.ndarray) -> np.ndarray:
    return x / (pop[:, None] * 1000.0)


def _weekly(x: np.ndarray) -> np.ndarray:
    g, n = x.shape
    w = n // 7
    return x[:, : 7 * w].reshape(g, w, 7).sum(axis=2)


def build_study(o: OrgSim, geos: tuple[Geo, ...], dates: list[date]) -> StudyTable:
    """The study table of the org's embedded design (see the module table)."""
    d, po = o.design, o.potential
    assert d is not None and po is not None
    regions = np.array([g.code for g in geos])
    pop = o.pop
    y1 = _per_k(po.y1(d.treated), pop)
    y0 = _per_k(po.y0(d.treated), pop)
    y = _per_k(po.revenue_fact, pop)
    kind = d.kind
    if kind == "geo_holdout":
        start, length = int(d.info["window_start_day"]), int(d.info["window_days"])
        pre = int(d.info["pre_days"])
        win = slice(start, start + length)
        prew = slice(start - pre, start)
        treat = np.asarray(d.info["treatment_geo_mask"], dtype=bool)
        # Potential outcomes per geo of the whole-window path: treat geos' Y(1) is factual.
        y1g = np.where(treat, y[:, win].sum(1), _per_k(po.revenue_alt, pop)[:, win].sum(1))
        y0g = np.where(treat, _per_k(po.revenue_alt, pop)[:, win].sum(1), y[:, win].sum(1))
        frame = pd.DataFrame(
            {
                "region": regions,
                "population_m": pop,
                "log_population": np.log(pop),
                "treatment": treat.astype(np.int64),
                "revenue": y[:, win].sum(1),
                "revenue_pre": y[:, prew].sum(1) * length / max(pre, 1),
            }
        )
        tau = y1g - y0g
        pot = pd.DataFrame({"y1": y1g, "y0": y0g})
        return StudyTable(
            frame,
            {
                "outcome": "revenue",
                "treatment": "treatment",
                "unit": "region",
                "pre_outcome": "revenue_pre",
                "covariates": ["log_population"],
            },
            "ate",
            float(tau.mean()),
            "difference_in_means",
            kind,
            f"revenue per 1,000 residents over the {length}-day test window",
            {
                "att": float(tau[treat].mean()),
                "atc": float(tau[~treat].mean()),
                "per_geo_effect": dict(zip(regions.tolist(), tau.tolist(), strict=True)),
            },
            pot,
        )
    if kind in ("staggered", "synthetic_control"):
        tr_w = _weekly(d.treated.astype(np.int64)) > 0
        yw, y1w, y0w = _weekly(y), _weekly(y1), _weekly(y0)
        g, w = yw.shape
        if kind == "staggered":
            first = np.array([int(lw) // 7 if lw >= 0 else 0 for lw in d.info["launch_day"]])
        else:
            first = np.zeros(g, dtype=np.int64)
            first[int(d.info["treated_geo_index"])] = int(d.info["launch_day"]) // 7
        frame = pd.DataFrame(
            {
                "region": np.repeat(regions, w),
                "week": np.tile(np.arange(w), g),
                "revenue": yw.ravel(),
                "treatment": tr_w.ravel().astype(np.int64),
                "first_treated_week": np.repeat(first, w),
                "population_m": np.repeat(pop, w),
            }
        )
        tau = (y1w - y0w)[tr_w]
        truth: dict[str, Any] = {}
        if kind == "staggered":
            gt = []
            for cohort in sorted(set(first[first > 0].tolist())):
                rows = first == cohort
                for week in range(cohort, w):
                    cell = (y1w - y0w)[rows, week]
                    gt.append(
                        {
                            "cohort_week": cohort,
                            "week": week,
                            "event_time": week - cohort,
                            "att": float(cell.mean()),
                        }
                    )
            truth["group_time_att"] = gt
        else:
            unit = int(d.info["treated_geo_index"])
            truth["treated_region"] = str(regions[unit])
            truth["effect_by_week"] = (y1w - y0w)[unit][tr_w[unit]].tolist()
        roles = {
            "outcome": "revenue",
            "treatment": "treatment",
            "unit": "region",
            "time": "week",
            "cluster": "region",
        }
        hint = "staggered_did" if kind == "staggered" else "synthetic_control"
        return StudyTable(
            frame,
            roles,
            "att",
            float(tau.mean()),
            hint,
            kind,
            "weekly revenue per 1,000 residents",
            truth,
            pd.DataFrame({"y1": y1w.ravel(), "y0": y0w.ravel()}),
        )
    # Unit-day designs.
    g, n = y.shape
    base = pd.DataFrame(
        {
            "region": np.repeat(regions, n),
            "day": np.tile(np.arange(n), g),
            "revenue": y.ravel(),
            "treatment": d.treated.ravel().astype(np.int64),
            "weekend": np.tile(np.array([dt.weekday() >= 5 for dt in dates], dtype=np.int64), g),
        }
    )
    tau = (y1 - y0).ravel()
    pot = pd.DataFrame({"y1": y1.ravel(), "y0": y0.ravel()})
    units = "daily revenue per 1,000 residents"
    if kind == "rdd":
        r = d.columns["demand_forecast"].ravel()
        cutoff = float(d.info["cutoff"])
        base["demand_forecast"] = r
        h = 0.1 * float(r.std())
        near = np.abs(r - cutoff) <= h
        return StudyTable(
            base,
            {
                "outcome": "revenue",
                "treatment": "treatment",
                "unit": "region",
                "time": "day",
                "running_variable": "demand_forecast",
                "cutoff": cutoff,
                "cluster": "region",
            },
            "late",
            float(tau[near].mean()),
            "rdd",
            kind,
            units,
            {"band_halfwidth": h, "units_in_band": int(near.sum()), "ate_all": float(tau.mean())},
            pot,
        )
    if kind == "iv":
        base["auction_shock"] = d.columns["auction_shock"].ravel().astype(np.int64)
        complier = d.columns["complier"].ravel() > 0
        treated = d.treated.ravel()
        return StudyTable(
            base,
            {
                "outcome": "revenue",
                "treatment": "treatment",
                "unit": "region",
                "time": "day",
                "instruments": ["auction_shock"],
                "covariates": ["weekend"],
                "cluster": "region",
            },
            "late",
            float(tau[complier].mean()),
            "iv",
            kind,
            units,
            {
                "complier_share": float(complier.mean()),
                "ate_all": float(tau.mean()),
                "att": float(tau[treated].mean()),
            },
            pot,
        )
    if kind == "observational":
        covs = [
            "demand_forecast",
            "macro_index",
            "competitor_intensity",
            "promo",
            "weekend",
            "log_population",
        ]
        for c in covs:
            if c != "weekend":
                base[c] = d.columns[c].ravel()
        treated = d.treated.ravel()
        return StudyTable(
            base,
            {
                "outcome": "revenue",
                "treatment": "treatment",
                "unit": "region",
                "time": "day",
                "covariates": covs,
                "cluster": "region",
            },
            "ate",
            float(tau.mean()),
            "aipw",
            kind,
            units,
            {
                "att": float(tau[treated].mean()),
                "propensity_range": [
                    float(d.columns["propensity"].min()),
                    float(d.columns["propensity"].max()),
                ],
            },
            pot,
        )
    raise ValueError(f"no study table for design {kind!r}")
