"""Cooperative cancellation of the domain's long work: the optimiser's, the design's and the
forecast's loops stop at their checkpoints once the token says so, and a live token changes
nothing."""

from __future__ import annotations

import threading
import traceback

import pytest

from mesh.runtime.cancellation import (
    Cancelled,
    CancelToken,
    cancellable,
    checkpoint,
    run_with,
    running_jobs,
)
from surfacing_svc.design import DesignSpec, design_experiment
from surfacing_svc.forecast import predict_performance
from surfacing_svc.optimizer import Objective, optimize_budget
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.worlds import geo_history

# Twelve channels, some S-shaped, 1000 draws each, risk-adjusted: ~1.5 s of SLSQP starts.
CURVES = [
    hill(f"c{i}", spend=100.0 + 10 * i, scale=300.0 + 40 * i, kappa=0.5 + 0.2 * i,
         shape=1.0 + 0.1 * (i % 4), spread=0.3, draws=1000, seed=i)
    for i in range(12)
]  # fmt: skip
BUDGET = sum(c.reference_spend for c in CURVES)


def _optimize() -> object:
    return optimize_budget(CURVES, objective=Objective.REVENUE, budget=BUDGET, risk=1.0)


def _stopped_in(error: Cancelled) -> str:
    """The file of the checkpoint that raised ``error`` (its caller's)."""
    files = [f.filename for f in traceback.extract_tb(error.__traceback__)]
    return next(f for f in reversed(files) if not f.endswith("mesh/runtime/cancellation.py"))


def test_a_token_stops_a_checkpoint_when_cancelled_or_past_its_deadline() -> None:
    token = CancelToken()
    with cancellable(token):
        checkpoint()  # live: nothing
        token.cancel()
        with pytest.raises(Cancelled) as info:
            checkpoint()
    assert not info.value.deadline
    checkpoint()  # outside the block: no token, nothing
    with cancellable(CancelToken.within(-1.0)), pytest.raises(Cancelled) as info:
        checkpoint()
    assert info.value.deadline


@pytest.mark.parametrize("deadline", [False, True])
def test_the_optimizer_stops_inside_its_loop(deadline: bool) -> None:
    token = CancelToken.within(-1.0) if deadline else CancelToken()
    if not deadline:
        token.cancel()
    with cancellable(token), pytest.raises(Cancelled) as info:
        _optimize()
    assert info.value.deadline is deadline
    # the objective every SLSQP step evaluates (the optimizer's own module or its objective's)
    assert _stopped_in(info.value).endswith(
        (
            "surfacing_svc/optimizer.py",
            "surfacing_svc/budget_objective.py",
            "surfacing_svc/budget_solve.py",
        )
    )


def test_a_token_cancelled_from_another_thread_stops_the_optimizer_midway() -> None:
    token = CancelToken()
    timer = threading.Timer(0.1, token.cancel)  # the optimisation takes ~1.5 s
    timer.start()
    try:
        with pytest.raises(Cancelled):
            run_with(token, _optimize)
    finally:
        timer.cancel()
    assert running_jobs() == 0


def test_a_live_token_changes_nothing() -> None:
    curves = CURVES[:4]
    budget = sum(c.reference_spend for c in curves)
    plain = optimize_budget(curves, objective=Objective.REVENUE, budget=budget, risk=1.0)
    token = CancelToken.within(600.0)
    watched = run_with(token, optimize_budget, curves, objective=Objective.REVENUE,
                       budget=budget, risk=1.0)  # fmt: skip
    assert [p.optimal_spend for p in watched.channels] == [p.optimal_spend for p in plain.channels]
    assert running_jobs() == 0


def test_the_design_stops_in_its_placebo_windows() -> None:
    history = geo_history(n_geos=20, n_days=200)
    token = CancelToken()
    token.cancel()
    with cancellable(token), pytest.raises(Cancelled) as info:
        design_experiment(history, DesignSpec("meta", durations=(14, 28)))
    assert _stopped_in(info.value).endswith(("design/plan.py", "design/power.py"))


def test_the_forecast_stops_in_its_paths() -> None:
    history = geo_history(n_geos=5, n_days=200)
    token = CancelToken()
    token.cancel()
    spend = {"meta": history.spend["meta"].sum(axis=0)}
    with cancellable(token), pytest.raises(Cancelled) as info:
        predict_performance(history.dates, history.outcome.sum(axis=0), spend, (), {},
                            horizon=28)  # fmt: skip
    assert _stopped_in(info.value).endswith("surfacing_svc/forecast.py")


def test_a_cancelled_token_does_not_start_the_work() -> None:
    token = CancelToken()
    token.cancel()
    ran: list[int] = []
    with pytest.raises(Cancelled):
        run_with(token, ran.append, 1)
    assert not ran and running_jobs() == 0
