"""Macro shock found over a stored window (causal_svc.confounders_macro): the index's effect on
the org's orders is estimated and weighed with the ingest rule's own, so the days flagged
follow this org's effect where the orders measure it, and the ingest rule where they cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import sim
from bench.confounder_detection import macro_inputs
from causal_svc.confounders_macro import (
    FLAG_PROBABILITY,
    MATERIAL_LOG_MOVE,
    MIN_DAYS,
    PRIOR_RELATIVE_SD,
    PRIOR_STEPS,
    detect_macro_shock,
    macro_shock_lines,
)
from causal_svc.errors import InsufficientData
from mesh.runtime.aggregates import sum_column
from sim.confounders import confounder_truth

DAYS = np.arange("2024-01-01", "2025-01-01", dtype="datetime64[D]")


def _index(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = 0.98 * out[t - 1] + rng.normal(0.0, 0.2)
    return out


def _orders(rng: np.random.Generator, index: np.ndarray, coef: float, scale: float) -> np.ndarray:
    """Poisson orders around exp(coef · index + weekday + AR(1) shock), ``scale`` a day."""
    n = index.size
    shock = np.zeros(n)
    for t in range(1, n):
        shock[t] = 0.7 * shock[t - 1] + rng.normal(0.0, 0.003)
    weekday = np.array([0.05, 0.0, -0.02, 0.0, 0.03, 0.08, 0.06])[np.arange(n) % 7]
    return rng.poisson(scale * np.exp(coef * index + weekday + shock)).astype(float)


def _step(index: np.ndarray) -> float:
    change = np.diff(index)
    return float(1.4826 * np.median(np.abs(change - np.median(change))))


@pytest.mark.parametrize("coef", [0.03, 0.06])
def test_an_effect_the_orders_measure_sets_the_threshold(coef: float) -> None:
    # a year of 200,000 orders a day: the effect is measured well, and the flagged days are
    # those where it moves demand by 2%, wherever the ingest rule's fixed distance would sit
    rng = np.random.default_rng(7)
    index = _index(rng, DAYS.size)
    found = detect_macro_shock(DAYS, index, DAYS, _orders(rng, index, coef, 200_000.0))
    assert found.estimate == pytest.approx(coef, abs=0.004)
    assert found.effect == pytest.approx(coef, abs=0.004)
    truth = coef * np.abs(index - index.mean()) >= MATERIAL_LOG_MOVE
    ingest = np.abs(index - index.mean()) >= PRIOR_STEPS * _step(index)
    agree, agree_ingest = (found.flagged == truth).mean(), (ingest == truth).mean()
    assert agree >= 0.97, (agree, agree_ingest)
    assert agree > agree_ingest


def test_orders_that_say_nothing_leave_the_ingest_rule() -> None:
    # 20 orders a day: the estimate's error dwarfs the effect, so the prior (the ingest rule's
    # distance of 2.2 daily steps) decides
    rng = np.random.default_rng(3)
    index = _index(rng, 120)
    found = detect_macro_shock(DAYS[:120], index, DAYS[:120], _orders(rng, index, 0.06, 20.0))
    assert found.std_error > 0.05
    # the prior alone: the effect per step it exceeds with FLAG_PROBABILITY
    z = float(norm.ppf(1 - FLAG_PROBABILITY))
    expected = PRIOR_STEPS * found.step / (1 + z * PRIOR_RELATIVE_SD)
    assert found.threshold == pytest.approx(expected, rel=0.03)


def test_a_simulated_world_scores_against_its_truth() -> None:
    # a year-long confounded world the detector was not developed on (dev: 20-29)
    result = sim.simulate("confounded", seed=31, dirt=False)
    found = detect_macro_shock(**macro_inputs(result))  # type: ignore[arg-type]
    coef = next(iter(result.truth["orgs"].values()))["demand"]["params"]["macro_coef"]
    assert found.effect == pytest.approx(coef, abs=0.005)
    truth = confounder_truth(result)
    active = truth["macro_shock"].to_numpy(bool)
    flagged = found.flags_for(truth["date"].to_numpy())
    assert active.sum() > 1000
    tp = int((active & flagged).sum())
    # the ingest rule's fixed distance finds 93.9% here (its coefficient is 0.053)
    assert tp / active.sum() >= 0.97 and tp / max(int(flagged.sum()), 1) >= 0.95


def test_flags_for_days_off_the_series_are_false() -> None:
    rng = np.random.default_rng(5)
    index = _index(rng, 120)
    found = detect_macro_shock(DAYS[:120], index, DAYS[:120], _orders(rng, index, 0.05, 5000.0))
    day = DAYS[int(np.argmax(found.flagged))]
    assert found.flagged.any()
    assert found.flags_for(
        np.array([day, DAYS[200], DAYS[0] - 5], dtype="datetime64[D]")
    ).tolist() == [
        True,
        False,
        False,
    ]


def test_a_window_too_short_is_refused() -> None:
    rng = np.random.default_rng(1)
    index = _index(rng, 120)
    orders = _orders(rng, index, 0.05, 5000.0)
    with pytest.raises(InsufficientData, match=f"needs {MIN_DAYS} days"):
        detect_macro_shock(DAYS[:120], index, DAYS[: MIN_DAYS - 1], orders[: MIN_DAYS - 1])
    with pytest.raises(InsufficientData, match="consecutive-day changes"):
        detect_macro_shock(DAYS[:120:10], index[::10], DAYS[:120], orders)


def test_missing_and_repeated_index_values_are_read_as_registered() -> None:
    rng = np.random.default_rng(5)
    index = _index(rng, 120)
    orders = _orders(rng, index, 0.05, 5000.0)
    clean = detect_macro_shock(DAYS[:120], index, DAYS[:120], orders)
    # a NaN on a day that is also registered again with its value, and a day registered twice
    # whose first value is stale: the last value of each day counts, NaN is no value
    days = np.concatenate([DAYS[:120], DAYS[[10, 20]]])
    values = np.concatenate([index, [index[10], index[20]]])
    values[10], values[20] = np.nan, 99.0
    found = detect_macro_shock(days, values, DAYS[:120], orders)
    assert found.estimate == pytest.approx(clean.estimate)
    assert found.flagged.tolist() == clean.flagged.tolist()


def test_an_index_that_does_not_move_is_refused() -> None:
    rng = np.random.default_rng(2)
    orders = _orders(rng, np.zeros(120), 0.05, 5000.0)
    with pytest.raises(InsufficientData, match="day-to-day changes") as err:
        detect_macro_shock(DAYS[:120], np.ones(120), DAYS[:120], orders)
    assert err.value.subject == "index_values"


def _wide(days: np.ndarray, orders: np.ndarray) -> pd.DataFrame:
    """Memory's geo × day sums: the orders split over two geos, a paid channel beside them."""
    epoch = days.astype(np.int64)
    half = np.floor(orders * 0.4)
    return pd.DataFrame({
        "date": np.concatenate([epoch, epoch]),
        "geo": ["US-CA"] * days.size + ["US-TX"] * days.size,
        sum_column("generic", "shopify", "conversions"): np.concatenate([half, orders - half]),
        sum_column("meta", "meta_prospecting", "spend"): np.full(2 * days.size, 100.0),
    })  # fmt: skip


def test_the_analysis_reads_each_national_macro_index_against_the_orders_it_holds() -> None:
    rng = np.random.default_rng(3)
    index = _index(rng, DAYS.size)
    orders = _orders(rng, index, 0.05, 50_000.0)
    competitor = rng.normal(0.0, 1.0, DAYS.size)
    series = [
        ("consumer_confidence", "", "macro", list(DAYS.tolist()), list(index)),
        ("rival", "", "competitor", list(DAYS.tolist()), list(competitor)),
        ("regional_index", "US-CA", "macro", list(DAYS.tolist()), list(index)),  # not national
    ]
    lines = macro_shock_lines(_wide(DAYS, orders), series)
    direct = detect_macro_shock(DAYS, index, DAYS, orders, {"rival": competitor})
    assert len(lines) == 1 and lines[0].startswith("macro shock (consumer_confidence)")
    assert f"on {int(direct.flagged.sum())} of {DAYS.size} days" in lines[0]
    assert f"{direct.estimate * direct.step * 100:+.2f}%" in lines[0]
    # no macro series: nothing to say; too short a window: said why, naming what is short
    assert macro_shock_lines(_wide(DAYS, orders), series[1:2]) == []
    short = macro_shock_lines(_wide(DAYS[:30], orders[:30]), series[:1])
    assert (
        short[0].startswith("macro shock (consumer_confidence) not assessed") and "56" in short[0]
    )
