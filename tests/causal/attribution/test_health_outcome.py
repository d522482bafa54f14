"""Health checks on the outcome's own values and on channels too small to measure (audit R30):

- F1: one geo-day of revenue at 1e9 (a day sells ~30k) passed PASS, the baseline read 13× the
  business; now the geo-day is named with its value and the usual one, and the analysis
  fails (REVIEW where the error carries little of the outcome).
- F3: an outcome zero on 80% of geo-days failed for "an export gap" and "the media claim
  sales that happen anyway"; now the first reason is the sparse outcome and its fix.
- F9: a channel spending a hundred-thousandth of the others passed unmarked with the prior's
  interval; now it is marked not identified.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from causal_svc.attribution import MMMFit, ModelSpec, Verdict, fit_mmm
from causal_svc.attribution.health import assess, chance_empty_days
from causal_svc.attribution.health_outcome import outcome_outliers, sparse_outcome

from .world import World


def _with_outcome(demo: World, y: np.ndarray):
    return dataclasses.replace(demo.panel, outcome=y)


def test_a_mistyped_day_is_named_and_fails(demo: World) -> None:
    y = demo.panel.outcome.copy()
    usual = float(y[3, 60])
    y[3, 60] = 1e9
    health = assess(fit_mmm(_with_outcome(demo, y), ModelSpec()), holdout=False)
    first = health.checks[0]
    assert (first.name, first.verdict) == ("outcome_outliers", Verdict.FAIL)
    assert health.verdict is Verdict.FAIL
    # the wrong row does not make the channels look too small to measure (R30 F1's world
    # flagged search when the noise was read off it)
    assert "spend_size" not in {c.name for c in health.checks} and not health.unidentified
    geo, day = demo.panel.geos[3], demo.panel.dates[60]
    assert first.message.startswith(
        f"1 geo-day(s) of the revenue are far outside their geo's usual range ({geo} on {day}: "
        "1,000,000,000 where ~"
    ), first.message
    assert "correct those rows at the source, re-ingest them" in first.message
    assert first.value is not None and first.value > 0.5  # the error is most of the outcome
    # the usual value it names is the geo-day's own order of magnitude
    named = float(first.message.split("where ~")[1].split(" ")[0].replace(",", ""))
    assert 0.5 < named / usual < 2.0


def test_a_small_error_is_review_and_a_low_day_is_named_too(demo: World) -> None:
    y = demo.panel.outcome.copy()
    y[5, 30] *= 50  # 50× one geo-day: ~1.3% of the window's outcome
    y[7, 90] /= 100  # a hundredth of one: a unit or a lost half of an export
    check = outcome_outliers(_with_outcome(demo, y))
    assert check is not None and check.verdict is Verdict.REVIEW
    assert check.message.startswith("2 geo-day(s) of the revenue")
    assert f"{demo.panel.geos[5]} on {demo.panel.dates[30]}" in check.message
    assert f"{demo.panel.geos[7]} on {demo.panel.dates[90]}" in check.message
    assert f"{y[7, 90]:,.0f} where ~" in check.message and "is usual, ×0.01" in check.message


@pytest.mark.parametrize("days", [8, 30])
def test_a_run_of_days_in_cents_is_named_as_a_run(demo: World, days: int) -> None:
    # audit s17 V2 F4: 8+ wrong days in a row were their own local level, and nothing was
    # flagged while they carried 7-20% of the window's outcome
    y = demo.panel.outcome.copy()
    y[3, 50 : 50 + days] *= 100
    check = outcome_outliers(_with_outcome(demo, y))
    assert check is not None and check.verdict is Verdict.FAIL
    assert check.message.startswith(f"{days} geo-day(s) of the revenue"), check.message
    geo, first, last = demo.panel.geos[3], demo.panel.dates[50], demo.panel.dates[49 + days]
    assert f"{geo} on {first}..{last} ({days} days): ~" in check.message, check.message
    factor = float(check.message.split(f"({days} days): ~")[1].split("×")[0].replace(",", ""))
    assert 50 < factor < 200


def test_clean_worlds_and_common_days_are_not_flagged(demo: World, demo_fit: MMMFit) -> None:
    assert outcome_outliers(demo.panel) is None
    assert sparse_outcome(demo.panel) is None
    names = {c.name for c in assess(demo_fit).checks}
    assert not names & {"outcome_outliers", "sparse_outcome", "spend_size"}
    # a day three times usual in every geo (a sale everywhere) is the day's, not an error
    y = demo.panel.outcome.copy()
    y[:, 50] *= 3
    assert outcome_outliers(_with_outcome(demo, y)) is None


@pytest.fixture(scope="module")
def sparse(demo: World) -> MMMFit:
    y = demo.panel.outcome.copy()
    y[np.random.default_rng(3).random(y.shape) < 0.8] = 0.0
    return fit_mmm(_with_outcome(demo, y), ModelSpec())


def test_a_sparse_outcome_fails_for_its_own_reason(sparse: MMMFit) -> None:
    health = assess(sparse, holdout=False)
    first = health.checks[0]
    assert (first.name, first.verdict) == ("sparse_outcome", Verdict.FAIL)
    assert first.message.startswith("the revenue is zero on 80% of geo-days")
    assert "ingest the outcome with coarser geos" in first.message
    base = next(c for c in health.checks if c.name == "baseline")
    # the baseline's positive share counts the geo-days that sold, not the zeros (was ~20%)
    share = float(base.message.split("positive in ")[1].split("%")[0])
    assert share > 50, base.message


def test_empty_days_by_chance_are_not_called_an_export_gap(demo: World) -> None:
    """Six geos selling on one day in five leave ~26% of days empty everywhere by chance."""
    rng = np.random.default_rng(5)
    y = demo.panel.outcome[:6].copy()
    y[rng.random(y.shape) < 0.8] = 0.0
    assert 25 < chance_empty_days(y) < 40
    panel = dataclasses.replace(
        demo.panel,
        geos=demo.panel.geos[:6],
        outcome=y,
        media=demo.panel.media[:, :6],
        spend=demo.panel.spend[:, :6],
        population=demo.panel.population[:6],
        controls={k: v[:6] for k, v in demo.panel.controls.items()},
    )
    health = assess(fit_mmm(panel, ModelSpec()), holdout=False)
    gaps = next(c for c in health.checks if c.name == "outcome_gaps")
    assert "days without a sale, not an export gap" in gaps.message, gaps.message
    assert "re-export" not in gaps.message


def test_a_channel_too_small_to_measure_is_not_identified(demo: World) -> None:
    p = demo.panel
    c = int(np.argmax(p.spend.sum(axis=(1, 2)) > 0))
    scale = np.ones(p.n_channels)
    scale[c] = 1e-5
    k = p.campaign_channel == c
    tiny = dataclasses.replace(
        p,
        media=p.media * scale[:, None, None],
        spend=p.spend * scale[:, None, None],
        campaign_spend=np.where(k[:, None], p.campaign_spend * 1e-5, p.campaign_spend),
        campaign_media=np.where(k[:, None], p.campaign_media * 1e-5, p.campaign_media),
    )
    health = assess(fit_mmm(tiny, ModelSpec()), holdout=False)
    assert health.unidentified == (p.channels[c],)
    check = next(x for x in health.checks if x.name == "spend_size")
    assert check.verdict is Verdict.REVIEW and health.verdict is not Verdict.PASS
    assert check.message.startswith(f"too little spend to identify: {p.channels[c]} (")
    assert "its row is the prior's, not a measurement" in check.message
