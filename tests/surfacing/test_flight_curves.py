"""predict's curve conditional on a channel running (surfacing_svc/flight_curves.py), on
curves binned as causal bins them: a flight re-run on its days reads what the analysis read; a
channel that pulses keeps its curve; a trickle is not running; a flight shorter than one node's
weight is still conditioned (V2-F2, F3, F10, F12 in notes/s21/V2_review.md)."""

from __future__ import annotations

import numpy as np
import pytest

from causal_svc.attribution.planning import _nodes
from surfacing_svc.curves import HillCurve
from surfacing_svc.flight_curves import running
from surfacing_svc.forecast import media_share

DAYS, GEOS, LEVEL = 400, 20, 300_000.0


def _curve(nat: np.ndarray, seed: int = 0) -> HillCurve:
    rng = np.random.default_rng(seed)
    share = rng.dirichlet(np.ones(GEOS) * 5)
    geo = nat[:, None] * share[None, :] * rng.lognormal(0, 0.3, (nat.size, GEOS))
    nodes, weights = _nodes((geo / geo.mean()).ravel(), np.ones(geo.size), 12)
    return HillCurve("tiktok", float(nat.sum()), nat.size, np.array([LEVEL]), np.array([1.2]),
                     np.array([1.5]), nodes=nodes, node_weights=weights)  # fmt: skip


def _rerun(curve: HillCurve, nat: np.ndarray) -> float:
    return float((media_share(curve, nat, DAYS * LEVEL)[0] * LEVEL).sum())


@pytest.mark.parametrize("length", [61, 120])
def test_a_flight_re_run_on_its_days_reads_what_the_analysis_read(length: int) -> None:
    nat = np.zeros(DAYS)
    nat[280 : 280 + length] = 17_571.0
    curve = _curve(nat)
    flight = running(curve, nat, np.full(DAYS, LEVEL))
    assert flight is not None and flight.on_days == length
    read = float(curve.outcome(np.array(curve.reference_spend))[0])
    assert _rerun(flight.curve, nat) == pytest.approx(read, rel=0.08)
    assert _rerun(curve, nat) < 0.45 * read  # the unconditioned curve re-applies the off-time


def test_a_flight_shorter_than_one_node_is_still_conditioned() -> None:
    nat = np.zeros(DAYS)
    nat[300:310] = 17_571.0
    curve = _curve(nat)
    flight = running(curve, nat, np.full(DAYS, LEVEL))
    assert flight is not None and flight.on_days == 10
    assert _rerun(flight.curve, nat) > 5 * _rerun(curve, nat)


def test_a_trickle_outside_the_flight_is_not_running() -> None:
    nat = np.full(DAYS, 20.0)
    nat[280:341] = 17_571.0
    flight = running(_curve(nat), nat, np.full(DAYS, LEVEL))
    assert flight is not None and flight.on_days == 61


@pytest.mark.parametrize("period, on", [(28, 3), (14, 7)])
def test_a_channel_that_pulses_from_the_first_day_keeps_its_curve(period: int, on: int) -> None:
    nat = np.where(np.arange(DAYS) % period < on, 17_571.0, 0.0)
    assert running(_curve(nat), nat, np.full(DAYS, LEVEL)) is None
