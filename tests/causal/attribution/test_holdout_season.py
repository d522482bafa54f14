"""A year of daily data whose media do nothing, on an annual season (audit R18 F5): the holdout
forecast of the last 28 days dropped the annual terms (its 337 training days were under a year),
missed the season's climb, read R² -0.10 and failed the health: no ROIs, where the same world
without a season read every channel 0.00 and PASS. Over most of a year the annual terms are
kept: PASS, and every channel near zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import ModelSpec, Verdict, analyze, panel_from_frames


def _null_world(days: int, season: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The audit's gen3/gen5 world: 10 states, revenue = base (population share × 400k/day ×
    weekday × 1 + season·sin(annual)) + 3% noise; search, social and tv flighted weekly, with
    no effect at all."""
    rng = np.random.default_rng(11)
    dates = pd.date_range("2024-01-01", periods=days)
    pop = np.array([39, 30, 19.5, 22, 12.5, 13, 11.8, 11, 10.7, 10])
    share = pop / pop.sum()
    t = np.arange(days)
    shape = (1 + 0.1 * np.sin(2 * np.pi * t / 7)) * (1 + season * np.sin(2 * np.pi * t / 365))
    base = np.outer(share * 400_000, shape)
    wk = t // 7
    search = np.outer(share * 20_000, rng.uniform(0.3, 1.7, wk.max() + 1)[wk])
    on = (rng.random(wk.max() + 1) < 0.5)[wk]
    tv = np.outer(share, np.where(on, rng.uniform(40_000, 80_000, days), 0.0))
    social = np.outer(share * 15_000, rng.uniform(0.2, 1.8, wk.max() + 1)[wk])
    flights = {"search": search, "tv": tv, "social": social}
    revenue = base + rng.normal(0, 0.03, base.shape) * base
    geos = [f"US-G{i}" for i in range(len(pop))]
    g, d = np.repeat(geos, days), np.tile(dates, len(geos))
    outcome = pd.DataFrame({"geo": g, "date": d, "value": revenue.reshape(-1)})
    zero = np.zeros(g.size)
    media = pd.concat([pd.DataFrame({"geo": g, "date": d, "channel": ch, "spend": x.reshape(-1),
                                     "impressions": zero, "platform_outcome": zero})
                       for ch, x in flights.items()], ignore_index=True)  # fmt: skip
    return outcome, media


@pytest.mark.parametrize("season", [0.2, 0.0])
def test_a_year_of_media_doing_nothing_passes_and_reads_zero(season: float) -> None:
    report = analyze(panel_from_frames(*_null_world(365, season)), ModelSpec())
    holdout = report.health.holdout
    assert holdout is not None and holdout.r_squared > 0.9, holdout
    assert report.health.verdict is Verdict.PASS, report.health.checks
    iroas = {c.channel: c.iroas for c in report.channels if c.iroas}
    assert set(iroas) == {"search", "social", "tv"}
    for ch, ci in iroas.items():
        assert ci.lower <= 0.0 + 1e-9 and ci.estimate < 0.15 and ci.upper < 0.5, (ch, ci)
