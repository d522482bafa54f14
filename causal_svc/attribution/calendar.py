"""The national design: calendar and external series that move demand — and budgets — in every
geo at once, as columns for the national rows of the fit (:mod:`.within`).

Columns: day of week (six dummies), one dummy per public holiday and retail event in the
window (US calendar from ``holidays``, plus Black Friday, its weekend and Cyber Monday from
:mod:`mesh.runtime.retail_calendar`, the days the ingestion service's calendar lists), the December gifting weeks (1–21 December, when
retail demand runs above its seasonal curve), and each national external series (macro index,
competitor activity, own promotions: the org's registered factors). Trend and annual
seasonality are in the geo basis already.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache

import holidays
import numpy as np

from mesh.runtime.retail_calendar import retail_events

__all__ = ["national_design"]


@lru_cache(maxsize=64)
def _calendar(country: str, year: int) -> tuple[tuple[dt.date, str], ...]:
    try:
        table = dict(holidays.country_holidays(country, years=[year]))
    except NotImplementedError:
        return ()
    # The retail days follow US Thanksgiving; controlled in the US, the model's country (the
    # ingestion calendar lists them in every country).
    if country == "US":
        table.update(retail_events(year))
    return tuple(sorted(table.items()))


def national_design(
    dates: np.ndarray,
    external: Mapping[str, np.ndarray] | None = None,
    country: str = "US",
) -> tuple[np.ndarray, tuple[str, ...]]:
    """National design matrix over the panel's days.

    Parameters
    ----------
    dates : ndarray (T,), datetime64[D]
    external : mapping name -> ndarray (T,)
        National external series (missing days as NaN are filled with the series mean).
    country : str
        ISO country of the public-holiday calendar.

    Returns
    -------
    design : ndarray (T, K)
    names : tuple of str
    """
    days = [dt.date.fromisoformat(str(d)) for d in dates.astype("datetime64[D]")]
    n = len(days)
    cols: list[np.ndarray] = []
    names: list[str] = []
    dow = np.array([d.weekday() for d in days])
    for k in range(1, 7):
        cols.append((dow == k).astype(np.float64))
        names.append(f"weekday_{k}")
    index = {d: i for i, d in enumerate(days)}
    for year in sorted({d.year for d in days}):
        for day, name in _calendar(country, year):
            i = index.get(day)
            if i is not None:
                col = np.zeros(n)
                col[i] = 1.0
                cols.append(col)
                names.append(f"holiday:{day.isoformat()}:{name}")
    gifting = np.array([1.0 if d.month == 12 and d.day <= 21 else 0.0 for d in days])
    if 0 < gifting.sum() < n:
        cols.append(gifting)
        names.append("december_gifting_weeks")
    for name, series in (external or {}).items():
        v = np.asarray(series, dtype=np.float64)
        if v.shape != (n,) or not np.isfinite(v).any():
            continue
        v = np.where(np.isfinite(v), v, np.nanmean(v))
        if float(v.std()) > 0:
            cols.append(v)
            names.append(f"external:{name}")
    design = np.column_stack(cols) if cols else np.zeros((n, 0))
    return design, tuple(names)
