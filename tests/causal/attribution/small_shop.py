"""R48's small shop (s20 audit, its w/gen.py) as an in-process panel: the same draws, so the
same seed gives the rows the audit's CSVs held."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from causal_svc.attribution.panel import MediaPanel, panel_from_frames


def small_shop(days: int, seed: int = 7) -> MediaPanel:
    """R48's shop (its w/gen.py): CA NY TX FL, ~2 orders a state-day, Meta from day 40 of 90,
    Google paused days 55-68, whole-dollar spend; revenue per unit meta 2.0, google 1.5. The
    window is the last ``days`` of the 90."""
    rng = np.random.default_rng(seed)
    start = dt.date(2026, 10, 31) - dt.timedelta(days=89)
    out, media = [], []
    for i in range(90):
        d = start + dt.timedelta(days=i)
        for g in ("CA", "NY", "TX", "FL"):
            m = float(rng.integers(3, 15)) if i >= 40 else 0.0
            gg = 0.0 if 55 <= i <= 68 else float(rng.integers(4, 12))
            mu = 90.0 * (1.2 if d.weekday() >= 5 else 1.0) + 2.0 * m + 1.5 * gg
            orders = rng.poisson(mu / 60.0)
            revenue = float(sum(round(rng.gamma(4, 15)) for _ in range(orders)))
            if i < 90 - days:
                continue
            geo, day = f"US-{g}", pd.Timestamp(d)
            out.append((geo, day, revenue, float(orders)))
            for channel, spend in (("meta", m), ("google", gg)):
                if channel == "google" or i >= 40:
                    media.append((geo, day, channel, spend, 0.0, 0.0))
    outcome = pd.DataFrame(out, columns=["geo", "date", "value", "orders"])
    frame = pd.DataFrame(media, columns=["geo", "date", "channel", "spend", "impressions",
                                         "platform_outcome"])  # fmt: skip
    return panel_from_frames(outcome, frame, currency="USD")
