"""Macro shock found in hindsight: the days a registered macro index moves *this org's* demand
by at least :data:`MATERIAL_LOG_MOVE` from its usual level.

At ingest the index alone is visible, so the rule there (``ingestion_svc.confounder_macro``)
flags a fixed distance from the series' mean, :data:`PRIOR_STEPS` of the index's own daily
steps. Whether that distance matters depends on the index's effect on the org's demand: an
org whose demand barely follows consumer confidence is over-flagged, one that follows it
closely under-flagged. Over a stored window the org's own first-party orders are visible, so
the effect can be estimated and the rule weighed by it:

* **The effect.** The log of the day's first-party orders (all geos) is regressed on the index
  with every control the org has: a trend and annual harmonics (one pair under
  :data:`TWO_HARMONICS_DAYS` days, two from there), weekday, a dummy per public holiday and
  retail event, the December gifting weeks and the org's other national series (competitor
  activity, promotions): the attribution's own national design
  (``causal_svc.attribution.calendar.national_design``). Day-to-day demand shocks persist,
  so the errors are AR(1): one Cochrane–Orcutt step (ρ from the OLS residuals), and the
  slope's standard error from the transformed regression times :data:`SE_INFLATION` (its
  ratio to the actual error on development worlds, where ρ read from residuals is short).
* **Weighed with what the ingest rule assumes.** The estimate is noisy (over a 120-day window
  its error is ~0.008 in log demand per index unit against effects of 0.03–0.06), so it is
  not used alone: taken alone it flags worse than the rule it would replace (issue 19, an
  earlier pass: 61% recall). It is combined, as a normal likelihood, with a normal prior
  centred on the ingest rule's own effect (:data:`MATERIAL_LOG_MOVE` per
  :data:`PRIOR_STEPS` daily steps) with a relative spread of :data:`PRIOR_RELATIVE_SD`, the
  spread of effects that rule was tuned across. Where the window says little the posterior
  stays at the ingest rule; where it says much the rule follows it.
* A day is flagged when the posterior gives at least :data:`FLAG_PROBABILITY` that the
  effect times the index's distance from the mean of every registered value reaches
  :data:`MATERIAL_LOG_MOVE`. Below one half, because the promise asks 95% recall but 90%
  precision (a missed day costs more than a false one) and because the orders read the
  effect ~8% low where paid media's orders, which follow budgets rather than the index, are
  a large share (``demo`` worlds; not on ``confounded``, where budgets chase demand at 2).

The steps are the index's robust (MAD) sd of consecutive-day changes, as at ingest, so the
prior is stated in the index's own units whatever its scale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from causal_svc.attribution.calendar import national_design
from causal_svc.attribution.partial_gaps import fill_partial_gaps
from causal_svc.confounders_retro import FIRST_PARTY_SOURCE
from causal_svc.errors import InsufficientData

__all__ = [
    "MacroShock",
    "NamedSeries",
    "detect_macro_shock",
    "first_party_orders",
    "macro_shock_lines",
]

MATERIAL_LOG_MOVE = 0.02  # a 2% move in baseline demand counts (the promise's materiality)
PRIOR_STEPS = 2.2  # the ingest rule (ingestion_svc.confounder_macro.MACRO_STEPS)
PRIOR_RELATIVE_SD = 0.19  # the effect's spread on the ingest rule's tuning worlds (sd / mean)
SE_INFLATION = 1.1  # actual / reported slope error on development worlds demo 20-58
# chosen on development worlds (demo 20-58, 60-98, 100-139, 200-239, 500-559; confounded
# 20-28, 50-58) as the one meeting 95 / 90 in the most 3-world groups: 48 of 80 (0.5: 36,
# 0.4: 43, 0.3: 47; the ingest rule 31)
FLAG_PROBABILITY = 0.35
TWO_HARMONICS_DAYS = 270
MIN_DAYS = 56
MIN_STEPS = 14
_MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True)
class MacroShock:
    """What the window's orders say about the index's effect, and the days it flags."""

    step: float  # the index's daily step (robust sd of consecutive-day changes)
    estimate: float  # the orders' slope, log demand per index unit
    std_error: float
    effect: float  # posterior mean, log demand per index unit
    threshold: float  # the distance from the mean that moves demand by MATERIAL_LOG_MOVE
    mean: float
    days: np.ndarray  # datetime64[D] of the registered values
    flagged: np.ndarray  # bool, per day

    def flags_for(self, dates: np.ndarray) -> np.ndarray:
        """Per date (datetime64-like), whether it is a macro shock day (False off the series)."""
        day = np.asarray(dates, dtype="datetime64[D]")
        where = np.searchsorted(self.days, day)
        inside = (where < self.days.size) & (
            self.days[np.minimum(where, self.days.size - 1)] == day
        )
        return inside & self.flagged[np.minimum(where, self.days.size - 1)]


def _step_size(values: np.ndarray, days: np.ndarray) -> float:
    change = np.diff(values)[np.diff(days).astype(np.int64) == 1]
    if change.size < MIN_STEPS:
        raise InsufficientData(
            f"the macro index needs {MIN_STEPS} consecutive-day changes, has {change.size}",
            subject="index_values",
        )
    step = float(_MAD_TO_SD * np.median(np.abs(change - np.median(change))))
    if not step > 0:
        raise InsufficientData(
            "the macro index needs day-to-day changes to measure its steps; most are zero",
            subject="index_values",
        )
    return step


def _fit(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Least squares by the normal equations' pseudo-inverse (collinear calendar columns
    allowed): coefficients, (X'X)^+ and the rank. Only a K × K decomposition: numpy's lstsq
    (gelsd) on a year's 365 × 30 design took ~0.1 s on the loaded 2-core machine."""
    xtx = x.T @ x
    xtx_inv = np.linalg.pinv(xtx, hermitian=True)
    return xtx_inv @ (x.T @ y), xtx_inv, int(np.linalg.matrix_rank(xtx, hermitian=True))


def _slope(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """First column's coefficient and standard error after one Cochrane–Orcutt step."""
    beta, _, _ = _fit(y, x)
    resid = y - x @ beta
    rho = float(np.clip(np.corrcoef(resid[1:], resid[:-1])[0, 1], 0.0, 0.95))
    ys, xs = y[1:] - rho * y[:-1], x[1:] - rho * x[:-1]
    beta, xtx_inv, rank = _fit(ys, xs)
    resid = ys - xs @ beta
    dof = max(ys.size - rank, 1)
    return float(beta[0]), float(np.sqrt(xtx_inv[0, 0] * float(resid @ resid) / dof))


def detect_macro_shock(
    index_days: np.ndarray,
    index_values: np.ndarray,
    order_days: np.ndarray,
    orders: np.ndarray,
    controls: dict[str, np.ndarray] | None = None,
    country: str = "US",
) -> MacroShock:
    """Macro shock days of a national index, weighed by its effect on the org's orders.

    Parameters
    ----------
    index_days, index_values : ndarray (S,)
        Every registered value of the index (datetime64[D] days, floats); its mean is theirs.
    order_days, orders : ndarray (T,)
        The window's days and the org's first-party orders on each (all geos); days without
        orders are left out of the estimate.
    controls : mapping name -> ndarray (T,)
        The org's other national series over ``order_days`` (NaN where unregistered).
    country : str
        ISO country of the public-holiday calendar.
    """
    index = _by_day(index_days, index_values)
    index = index[np.isfinite(index)]  # a missing value is no value
    idays, values = index.index.to_numpy("datetime64[D]"), index.to_numpy(np.float64)
    step = _step_size(values, idays)
    mean = float(values.mean())
    odays = np.asarray(order_days, dtype="datetime64[D]")
    y_all = np.asarray(orders, dtype=np.float64)
    where = np.searchsorted(idays, odays)
    on = (where < idays.size) & (idays[np.minimum(where, idays.size - 1)] == odays) & (y_all > 0)
    if on.sum() < MIN_DAYS:
        raise InsufficientData(
            f"the macro effect needs {MIN_DAYS} days with orders and an index value, "
            f"has {int(on.sum())}",
            subject="orders",
        )
    days = odays[on]
    t = (days - days[0]).astype(np.float64)
    doy = 2 * np.pi * (days - days.astype("datetime64[Y]")).astype(np.float64) / 365.25
    harmonics = 2 if t[-1] + 1 >= TWO_HARMONICS_DAYS else 1
    annual = [f(k * doy) for k in range(1, harmonics + 1) for f in (np.cos, np.sin)]
    external = {k: np.asarray(v, dtype=np.float64)[on] for k, v in (controls or {}).items()}
    design, _ = national_design(days, external, country)
    x = np.column_stack([values[where[on]], np.ones_like(t), t / 365.0, *annual, design])
    estimate, se = _slope(np.log(y_all[on]), x)
    se *= SE_INFLATION
    # prior and estimate per daily step, so the prior holds whatever the index's scale
    prior_mean = MATERIAL_LOG_MOVE / PRIOR_STEPS
    prior_var = (PRIOR_RELATIVE_SD * prior_mean) ** 2
    data_var = (se * step) ** 2
    per_step = (prior_mean / prior_var + estimate * step / data_var) / (
        1 / prior_var + 1 / data_var
    )
    post_sd = float(np.sqrt(1 / (1 / prior_var + 1 / data_var)))
    effect = max(per_step, 0.0) / step
    # the effect per step the posterior exceeds with FLAG_PROBABILITY: a day is flagged when
    # that effect times its distance (in steps) reaches the materiality
    likely = max(per_step + float(norm.ppf(1 - FLAG_PROBABILITY)) * post_sd, 0.0)
    threshold = MATERIAL_LOG_MOVE * step / likely if likely > 0 else float("inf")
    flagged = np.abs(values - mean) >= threshold
    return MacroShock(step, estimate, se, effect, threshold, mean, idays, flagged)


NamedSeries = tuple[str, str, str, Sequence[dt.date], Sequence[float]]
"""A registered external series: name, geo ("" for national), kind ("macro", "competitor", …),
days and values."""


def _by_day(
    days: Sequence[dt.date] | np.ndarray, values: Sequence[float] | np.ndarray
) -> pd.Series:
    """A registered series by day, in day order: a day registered twice keeps its last value."""
    s = pd.Series(np.asarray(values, np.float64), index=np.asarray(days, "datetime64[D]"))
    return s[~s.index.duplicated(keep="last")].sort_index()


def first_party_orders(geo_days: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The org's daily first-party orders over every geo from memory's geo × day sums (the
    wide ``source:channel:measure`` columns; the first-party conversions are read, its other
    sums and ``records`` count say which geo-days have a row): the days (datetime64[D]) and
    the orders on each. Geo-days without a row on a day other geos have them are read as the
    fit reads them (:func:`.attribution.partial_gaps.fill_partial_gaps`: the geo's usual ratio
    to the geos present, not zero; audit R50 F2: a large geo's lost fortnight otherwise dips
    the national orders by its share, 115 -> 189 days flagged in test_confounders_macro_gaps);
    a day with too few geos is 0, which :func:`detect_macro_shock` leaves out."""
    parts = [str(c).split(":") for c in geo_days.columns]
    first_party = [(c, p[2]) for c, p in zip(geo_days.columns, parts, strict=True)
                   if len(p) == 3 and p[0] == FIRST_PARTY_SOURCE]  # fmt: skip
    cols = [c for c, m in first_party if m == "conversions"]
    if not cols:
        return np.array([], "datetime64[D]"), np.array([], np.float64)
    orders = geo_days[cols].sum(axis=1).to_numpy(np.float64)  # NaN as 0, as a sum leaves it
    rows = geo_days[[c for c, _ in first_party]].fillna(0.0).to_numpy(np.float64)
    frame = pd.DataFrame({"date": geo_days["date"].to_numpy(), "geo": geo_days["geo"].astype(str),
                          "orders": orders, "present": (rows != 0).any(axis=1)})  # fmt: skip
    grid = frame.pivot_table(index="geo", columns="date", values=["orders", "present"],
                             aggfunc={"orders": "sum", "present": "max"}, fill_value=0)  # fmt: skip
    y, present = grid["orders"].to_numpy(np.float64), grid["present"].to_numpy(bool)
    days = grid["orders"].columns.to_numpy(np.int64).astype("datetime64[D]")
    filled = fill_partial_gaps(y, present, tuple(grid.index), days, y).outcome
    return days, filled.sum(axis=0)


def macro_shock_lines(geo_days: pd.DataFrame, series: Sequence[NamedSeries]) -> list[str]:
    """One line per registered national macro index: the effect the window's first-party
    orders give it and how many of the window's days it moves demand by the materiality, or
    why it was not assessed (no reason to fail the analysis around it). The org's other
    national series are its controls."""
    macro = [s for s in series if s[2] == "macro" and not s[1]]
    if not macro:
        return []
    order_days, orders = first_party_orders(geo_days)
    controls = {}
    for name, geo, kind, days, values in series:
        if kind != "macro" and not geo:
            controls[name] = _by_day(days, values).reindex(order_days).to_numpy(np.float64)
    lines = []
    for name, _, _, days, values in macro:
        try:
            found = detect_macro_shock(
                np.asarray(days, "datetime64[D]"), np.asarray(values, np.float64),
                order_days, orders, controls,
            )  # fmt: skip
        except InsufficientData as error:
            lines.append(f"macro shock ({name}) not assessed: {error}")
            continue
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            lines.append(f"macro shock ({name}) not assessed: the window is degenerate ({error})")
            continue
        s = found.step * 100.0
        flagged = int(found.flags_for(order_days).sum())
        lines.append(
            f"macro shock ({name}): the orders read {found.estimate * s:+.2f}% ± "
            f"{found.std_error * s:.2f}% of demand per daily step of the index, "
            f"{found.effect * s:.2f}% weighed with the ingest rule's "
            f"{MATERIAL_LOG_MOVE / PRIOR_STEPS * 100:.2f}%; it moves demand by "
            f"≥ {MATERIAL_LOG_MOVE:.0%} on {flagged} of {order_days.size} days"
        )
    return lines
