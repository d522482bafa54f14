"""A TV channel on independent two-week flights per state, its effect additive (2.0 of revenue
per dollar over its geometric carry-over at decay 0.5): the world on which GEO's intervals were
diagnosed (docs/performance.md, "AUTO identification"). As long frames for
:func:`.panel_from_frames`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

STATES = ("CA", "TX", "NY", "FL", "PA", "OH", "IL", "GA", "NC", "MI")


@dataclass(frozen=True, slots=True)
class TvWorld:
    outcome: pd.DataFrame  # geo, date, value
    media: pd.DataFrame  # geo, date, channel, spend, impressions, platform_outcome
    controls: pd.DataFrame  # geo, date, promo (empty without a promotion series)
    iroas: float  # in-window incremental revenue over spend


def tv_world(
    seed: int,
    *,
    states: int = 10,
    days: int = 182,
    weekend: bool = True,
    promo: bool = False,
    noise: float = 0.0,
) -> TvWorld:
    """Per state, in this order of draws: size, flights, spend, then a promotion series
    (``promo``: N(0, 1), revenue × exp(0.02·promo)) and lognormal noise of sd ``noise``."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(dt.date(2024, 1, 1), periods=days)
    week = 1.0 + 0.1 * (dates.day_of_week >= 5) if weekend else np.ones(days)
    outcome, media, controls, incremental, spent = [], [], [], 0.0, 0.0
    for state in STATES[:states]:
        size = rng.uniform(0.5, 2.0)
        on = np.repeat(rng.random(days // 14 + 1) < 0.5, 14)[:days]
        spend = np.where(on, 3000.0 * size * rng.uniform(0.7, 1.3, days), 0.0)
        carried = np.zeros(days)
        for t in range(days):
            carried[t] = spend[t] + (0.5 * carried[t - 1] if t else 0.0)
        effect = 2.0 * 0.5 * carried
        base = 40000.0 * size * week
        geo = f"US-{state}"
        if promo:
            p = rng.normal(0.0, 1.0, days)
            base = base * np.exp(0.02 * p)
            controls.append(pd.DataFrame({"geo": geo, "date": dates, "promo": p}))
        value = base + effect
        if noise:
            value = value * rng.lognormal(0.0, noise, days)
        incremental += float(effect.sum())
        spent += float(spend.sum())
        outcome.append(pd.DataFrame({"geo": geo, "date": dates, "value": value}))
        media.append(pd.DataFrame({"geo": geo, "date": dates, "channel": "tv", "spend": spend,
                                   "impressions": 0.0, "platform_outcome": 0.0}))  # fmt: skip
    return TvWorld(
        pd.concat(outcome),
        pd.concat(media),
        pd.concat(controls) if controls else pd.DataFrame(columns=["geo", "date", "promo"]),
        incremental / spent,
    )
