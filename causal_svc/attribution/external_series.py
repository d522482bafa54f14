"""Registered external series on an attribution panel: national ones as national controls,
per-region ones as geo-varying controls, weekly ones carried over their weeks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from mesh.runtime.cadence import weekly_series
from mesh.runtime.region_names import geos_of_place

from .panel import MediaPanel

__all__ = ["with_external_series"]


def with_external_series(
    panel: MediaPanel, series: Sequence[tuple[str, str, Sequence[dt.date], Sequence[float]]]
) -> MediaPanel:
    """The panel with registered external series: (name, geo, days, values); a series for
    every geo (geo "") is national, one per geo a geo-varying control. Days outside the panel
    are ignored; missing days stay NaN (the national design fills them with the mean). A
    series dated one weekday only is weekly (a promotions calendar or an index kept per week):
    each value is carried over the six days after its date, said in a warning — filled with the
    series mean instead, a promotion week read as a Monday of promotion and six average days
    (audit R4 F10)."""
    index = {np.datetime64(d, "D"): i for i, d in enumerate(panel.dates)}
    panel_days = panel.dates.astype("datetime64[D]").astype(np.int64)
    national = dict(panel.national)
    per_geo: dict[str, np.ndarray] = {k: v.copy() for k, v in panel.controls.items()}
    geo_index = {g.upper(): i for i, g in enumerate(panel.geos)}
    unmatched: dict[str, set[str]] = {}
    several: dict[str, list[str]] = {}
    weekly: dict[str, tuple[str, int]] = {}
    for name, geo, days, values in series:
        epoch = np.array([np.datetime64(d, "D") for d in days]).astype(np.int64)
        day = weekly_series(epoch)
        pos: list[tuple[int, float]]
        if day:
            arr = _carried_over_week(panel_days, epoch, np.asarray(values, dtype=np.float64))
            pos = [(int(i), float(arr[i])) for i in np.flatnonzero(np.isfinite(arr))]
            weekly.setdefault(name, (day, int(np.unique(epoch).size)))
        else:
            at = [(index.get(np.datetime64(d, "D")), v) for d, v in zip(days, values, strict=True)]
            pos = [(i, v) for i, v in at if i is not None]
        if not pos:
            continue
        if not geo:
            arr = np.full(panel.n_days, np.nan)
            for i, v in pos:
                arr[i] = v
            national[name] = arr
            continue
        found = geos_of_place(geo, panel.geos)
        if len(found) > 1:
            several[f"{name}'s region {geo!r}"] = found
            continue
        g = geo_index.get(found[0].upper()) if found else None
        if g is None:
            unmatched.setdefault(name, set()).add(geo)
            continue
        grid = per_geo.setdefault(name, np.full((panel.n_geos, panel.n_days), np.nan))
        for i, v in pos:
            grid[g, i] = v
    controls = {
        k: np.where(np.isfinite(v), v, np.nanmean(v)) for k, v in per_geo.items()
        if np.isfinite(v).any()
    }  # fmt: skip
    notes = [
        f"external factor {name} has values on {day}s only ({n} dates): read as weekly, each "
        "value carried over the six days after its date"
        for name, (day, n) in weekly.items()
        if name in national or name in controls
    ]
    # A region the panel does not hold was left out silently: an effect the factor explains
    # then went to the channels (R52-F1: "CA" against the orders' "US-CA").
    notes += [
        f"external factor {name}: its region(s) {', '.join(sorted(map(repr, geos))[:5])} match "
        f"no region of this analysis (its regions are spelled like {panel.geos[0]!r}), so those "
        "values were left out; register them under the analysis's region codes"
        for name, geos in unmatched.items()
        if panel.geos
    ]
    notes += [
        f"external factor {what} is more than one region of this analysis "
        f"({', '.join(map(repr, found))}), so its values were left out; register them under one "
        "of those codes"
        for what, found in several.items()
    ]
    return replace(panel, national=national, controls=controls,
                   warnings=(*panel.warnings, *notes))  # fmt: skip


def _carried_over_week(panel_days: np.ndarray, days: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A weekly series on the panel's days: each day the value of the latest date at most six
    days before it (NaN where none is)."""
    order = np.argsort(days, kind="stable")
    d, v = days[order], values[order]
    j = np.searchsorted(d, panel_days, side="right") - 1
    ok = (j >= 0) & (panel_days - d[np.maximum(j, 0)] <= 6)
    out = np.full(panel_days.size, np.nan)
    out[ok] = v[j[ok]]
    return out
