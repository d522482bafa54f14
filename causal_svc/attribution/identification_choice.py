"""``AUTO`` identification: cross-geo (``GEO``) where the data show both that budgets do not
chase demand and that the geos' spend moves independently; the national series otherwise.

Why two conditions. ``GEO`` reads only within-day differences between geos (day effects take
everything national). That variation is unbiased only if budgets do not follow local demand
the analyst cannot see — measured by the confounders step's budget-response share (the share
of geo-days on which paid spend moved with the orders' local demand move,
:mod:`causal_svc.confounders_retro`) — and it is worth having only where there is some: a
panel whose geos are flighted together (national pacing, a national budget split by a fixed
key) leaves ``GEO`` nothing but noise and the chase, while the national series keeps every
movement. The second figure, per paid channel, is the share of its spend variance (each geo's
spend relative to that geo's mean, net of each geo's trend and seasonality) that is
cross-geo within a day (:func:`cross_geo_shares`); it is summarised over the channels by
their spend.

A window the detector could not assess, or a panel with too few geos to tell a geo's move
from noise, stays ``NATIONAL``: the default is the identification that survives a chase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .panel import MediaPanel
from .spec import Identification
from .within import Projection, annual_basis

__all__ = [
    "AUTO_MAX_BUDGET_RESPONSE",
    "AUTO_MIN_CROSS_GEO_SHARE",
    "AUTO_MIN_GEOS",
    "IdentificationChoice",
    "choose_identification",
    "cross_geo_shares",
]

# The budget-response share below which budgets are taken not to chase demand. Measured:
# panels whose budgets ignore demand flag 0.0% (the audit's daily_geo, short90 and midlaunch
# worlds, the simulator with confounding 0); the simulator's chased worlds flag 1.9-45%
# (seeds 0-19: misallocated from 1.9%, demo 4.3-8.2%, confounded 29-45%) except where the
# detector misses the chase (null: 0-7.4%, which the spread figure below catches). GEO's own
# health check reviews from 2%; a quarter of that keeps a detector's stray flag on an
# unchased panel from tipping it while staying far under any chase it does see.
AUTO_MAX_BUDGET_RESPONSE = 0.005

# The spend-weighted share of spend variance that is cross-geo within a day, from which the
# geos' spend moves on its own. Independent per-geo flights read about 1 - 1/G (the audit
# world's 12 geos: 0.92, each channel 0.90-0.93). The simulator's worlds - budgets paced
# nationally, per-geo daily noise, a chase of local demand - read 0.05-0.69 over 260 worlds
# (seeds 0-19 of demo 0.20-0.27, confounded 0.05-0.12, misallocated 0.23-0.39; null 0-199
# 0.51-0.69). On 55 of those 200 null worlds the budget-response detector flags under 0.5% of
# geo-days although their budgets chase demand (confounding 0.8), and there GEO called the
# no-effect channel significant in 15 of the first 20 (NATIONAL in 2): the spread figure must
# keep them out on its own. 0.8 sits above every simulated world, and is what independent
# flights give from 5 geos (AUTO_MIN_GEOS).
AUTO_MIN_CROSS_GEO_SHARE = 0.8

# Fewer geos than this: a geo's deviation from the day mean is mostly its own noise, and the
# detector's per-geo regressions are thin.
AUTO_MIN_GEOS = 5


@dataclass(frozen=True, slots=True)
class IdentificationChoice:
    """What ``AUTO`` chose and the figures that decided it."""

    identification: Identification
    budget_response: float | None
    cross_geo_share: float
    per_channel: dict[str, float]
    reason: str


def cross_geo_shares(panel: MediaPanel) -> dict[str, float]:
    """Per channel with spend: the share of its spend variance that is cross-geo within a day.

    Each geo's spend is scaled by its own mean (a large geo counts as much as a small one) and
    each geo's intercept, trend and annual seasonality are taken out, as both identifications'
    nuisance does; the share is what day effects leave of that (``GEO``'s variation) over all
    of it. Independent per-geo flights: close to 1 − 1/G; a budget paced nationally and split
    by a fixed key: close to 0.
    """
    g, t = panel.n_geos, panel.n_days
    day_of_year = (panel.dates - panel.dates.astype("datetime64[Y]")).astype(np.int64) + 1
    basis = annual_basis(t, day_of_year)
    weights = np.ones(g)
    with_days = Projection(weights, basis, day_effects=True)
    without_days = Projection(weights, basis, day_effects=False)
    out: dict[str, float] = {}
    for c, name in enumerate(panel.channels):
        s = panel.spend[c]
        level = s.mean(axis=1, keepdims=True)
        if float(s.sum()) <= 0:
            continue
        # A geo where the channel never ran has no scale: it adds nothing (zeros).
        scaled = np.divide(s, level, out=np.zeros_like(s), where=level > 0)
        total = float((without_days.geo(scaled) ** 2).sum())
        if total <= 0:
            continue
        out[name] = float((with_days.geo(scaled) ** 2).sum()) / total
    return out


def _spend_weighted(panel: MediaPanel, shares: dict[str, float]) -> float:
    spend = {name: float(panel.spend[c].sum()) for c, name in enumerate(panel.channels)}
    total = sum(spend[n] for n in shares)
    if total <= 0:
        return 0.0
    return sum(spend[n] * v for n, v in shares.items()) / total


def choose_identification(
    panel: MediaPanel, budget_response: float | Callable[[], float | None] | None
) -> IdentificationChoice:
    """``GEO`` where budgets did not chase demand (``budget_response`` below
    :data:`AUTO_MAX_BUDGET_RESPONSE`; None: not assessed) and the geos' spend moves
    independently (spend-weighted cross-geo share from :data:`AUTO_MIN_CROSS_GEO_SHARE`, at
    least :data:`AUTO_MIN_GEOS` geos); ``NATIONAL`` otherwise. The reason names the choice
    and the figures. ``budget_response`` may be a function, called only where the spread
    allows GEO: the service's detector then runs beside the fits as before, not ahead of
    them, wherever the panel's spend alone settles NATIONAL."""
    shares = cross_geo_shares(panel)
    share = _spend_weighted(panel, shares)
    spread_allows = share >= AUTO_MIN_CROSS_GEO_SHARE and panel.n_geos >= AUTO_MIN_GEOS
    unread = callable(budget_response) and not spread_allows
    measured: float | None
    if callable(budget_response):
        measured = budget_response() if spread_allows else None
    else:
        measured = budget_response
    if unread:
        chase = "the spend spread settles it"
    elif measured is None:
        chase = "budget response not assessed"
    else:
        chase = (
            f"paid budgets moved with demand on {measured:.1%} of geo-days "
            f"({'below' if measured < AUTO_MAX_BUDGET_RESPONSE else 'not below'} "
            f"{AUTO_MAX_BUDGET_RESPONSE:.1%})"
        )
    spread = (
        f"{share:.0%} of spend variance is cross-geo within a day "
        f"({'from' if share >= AUTO_MIN_CROSS_GEO_SHARE else 'below'} "
        f"{AUTO_MIN_CROSS_GEO_SHARE:.0%}; "
        + ", ".join(f"{n} {v:.0%}" for n, v in shares.items())
        + ")"
    )
    geo = spread_allows and measured is not None and measured < AUTO_MAX_BUDGET_RESPONSE
    few = (
        "" if panel.n_geos >= AUTO_MIN_GEOS else f"; {panel.n_geos} geos (GEO from {AUTO_MIN_GEOS})"
    )
    chosen = Identification.GEO if geo else Identification.NATIONAL
    reason = f"chosen automatically: {chosen.value.upper()}, as {chase} and {spread}{few}"
    return IdentificationChoice(chosen, measured, share, shares, reason)
