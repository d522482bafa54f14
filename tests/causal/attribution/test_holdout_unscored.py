"""A holdout whose days the training days cannot forecast, over a real mesh (memory, ingestion,
causal): a 90-day demo world from 15 September ends on 13 December; held out 14 days, every one
falls on Black Friday weekend or the December gift weeks, which the 76 training days never saw.
AnalyzeAttribution answered INTERNAL (``held.max()`` of no scored day, health.py); held out 17
days, only 27 November could be scored, R² was NaN and the model FAILED its health (no ROIs).
Now the holdout check is REVIEW and says why and what to do; the channels are scored.

Two more orgs (s18 Q): a 90-day world held out 3 days read R² -2.26 on them and FAILED the model
on three days' noise (a holdout is judged from 14 scored days: health_holdout); a 60-day world
at the default 28 days ran no holdout (32 training days) and nothing said so.

s18 V2 F6: every window of 70-83 days was REVIEW at the default holdout (28 days did not fit,
so none ran), whatever its fit. The default (the request's 0) now holds out the longest the
window allows, 14 days at least; a holdout the caller sets keeps its meaning."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from causal_svc.attribution import ModelSpec, fit_mmm
from causal_svc.attribution.health import assess
from causal_svc.attribution.health_holdout import holdout_days
from mesh.runtime.inprocess import RunningService

from .records import world_mesh
from .world import world

ORG = "decembershop"
NOISY = "threedayshop"  # demo seed 2, 90 days: its last 3 days' R² is -2.26
SHORT = "shortshop"  # 60 days: too short to hold out the default 28
MONTHS = "monthsshop"  # 76 days: the default 28 does not fit, 20 do


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[causal_grpc.CausalServiceStub]:
    worlds = {
        ORG: sim.simulate("demo", seed=0, days=90, dirt=False, n_geos=10),
        NOISY: sim.simulate("demo", seed=2, days=90, dirt=False, n_geos=10),
        SHORT: sim.simulate("demo", seed=2, days=60, dirt=False, n_geos=10),
        MONTHS: sim.simulate("demo", seed=2, days=76, dirt=False, n_geos=10),
    }
    services: dict[str, RunningService]
    with world_mesh(tmp_path_factory.mktemp("mesh"), worlds) as services:
        yield causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))


@pytest.mark.parametrize("holdout_days", [14, 17])
def test_a_holdout_the_training_days_cannot_forecast_is_review_and_said(
    stub: causal_grpc.CausalServiceStub, holdout_days: int
) -> None:
    request = pb.AnalyzeAttributionRequest(org_id=ORG, holdout_days=holdout_days)
    result = list(stub.AnalyzeAttribution(request, timeout=300))[-1].result
    checks = {c.name: c for c in result.health.checks}
    holdout = checks["holdout"]
    assert holdout.verdict == pb.HEALTH_VERDICT_REVIEW, holdout
    assert f"holdout ({holdout_days} days) not scored" in holdout.message, holdout.message
    assert "the December gift weeks" in holdout.message, holdout.message
    assert "Cyber Monday (2024-12-02)" in holdout.message, holdout.message
    # The fix it names: a longer holdout (a 90-day window allows 30 days) or a longer window.
    assert "--holdout-days / holdout_days up to 30" in holdout.message, holdout.message
    assert result.health.verdict != pb.HEALTH_VERDICT_FAIL, result.health
    assert result.health.holdout_days == 0  # no R² was measured, none is reported
    assert any(c.HasField("incremental_roas") for c in result.channels), result.channels


def _holdout(stub: causal_grpc.CausalServiceStub, org: str, days: int) -> pb.AttributionResult:
    request = pb.AnalyzeAttributionRequest(org_id=org, holdout_days=days)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


def test_a_holdout_of_a_few_days_is_review_not_a_fail_on_noise(
    stub: causal_grpc.CausalServiceStub,
) -> None:
    result = _holdout(stub, NOISY, 3)
    holdout = {c.name: c for c in result.health.checks}["holdout"]
    assert holdout.verdict == pb.HEALTH_VERDICT_REVIEW, holdout
    # the count, the figures shown (not judged), the least it judges on, and the fix
    assert "holdout (3 days) not judged: it holds out only 3 days" in holdout.message
    assert "only 3 days are scored (on them R² -" in holdout.message, holdout.message
    assert "under the 14 on which an R² is more than noise" in holdout.message
    assert "--holdout-days / holdout_days up to 30 on this window" in holdout.message
    assert result.health.verdict != pb.HEALTH_VERDICT_FAIL, result.health
    assert result.health.holdout_days == 0  # nothing judged, no R² reported as the model's
    assert any(c.HasField("incremental_roas") for c in result.channels), result.channels


def test_a_window_too_short_for_its_holdout_says_it_ran_none(
    stub: causal_grpc.CausalServiceStub,
) -> None:
    result = _holdout(stub, SHORT, 0)  # the default, 28 days
    holdout = {c.name: c for c in result.health.checks}["holdout"]
    assert holdout.verdict == pb.HEALTH_VERDICT_REVIEW, holdout
    assert holdout.message.startswith(
        "holdout (28 days) not run: the window's 60 days would leave 32 to train on, under "
        "the 56 a holdout fit needs"
    ), holdout.message
    # 60 days allow no holdout of 14 (46 training days): a longer window is the fix, and from
    # 70 days the default shortens itself to fit
    assert holdout.message.endswith(
        "analyse at least 70 days (from 70 the default holdout shortens to fit the window, 14 "
        "days at least)"
    ), holdout.message
    assert result.health.verdict != pb.HEALTH_VERDICT_FAIL, result.health
    assert result.health.holdout_days == 0
    # set by the caller, 28 days keep their meaning and the fix names the flag
    asked = {c.name: c for c in _holdout(stub, SHORT, 28).health.checks}["holdout"]
    assert asked.message.endswith(
        "analyse at least 84 days, or at least 70 with --holdout-days / holdout_days 14"
    ), asked.message


def test_the_default_holdout_shortens_to_fit_a_short_window(
    stub: causal_grpc.CausalServiceStub,
) -> None:
    # 76 days at the default: the 20 days the window allows are held out and judged (18
    # scored: Thanksgiving and Black Friday are unseen), said in the check; the verdict is the
    # fit's, not a REVIEW for a holdout that never ran
    result = _holdout(stub, MONTHS, 0)
    holdout = {c.name: c for c in result.health.checks}["holdout"]
    assert holdout.message.startswith("holdout (20 days): R² "), holdout.message
    assert holdout.message.endswith(
        "; the default 28 days shortened to the 20 this window's 76 days can hold out "
        "(--holdout-days / holdout_days sets it)"
    ), holdout.message
    assert result.health.holdout_days == 20
    assert result.model.model_config.holdout_days == 20
    # judged as any holdout is (health_holdout.holdout_check's thresholds)
    r2, mape = result.health.holdout_r_squared, result.health.holdout_mape
    expected = (pb.HEALTH_VERDICT_FAIL if r2 < 0 else pb.HEALTH_VERDICT_REVIEW
                if r2 < 0.3 or mape > 0.2 else pb.HEALTH_VERDICT_PASS)  # fmt: skip
    assert holdout.verdict == expected, holdout
    # the caller's 28 keeps its meaning: not run, and said
    asked = {c.name: c for c in _holdout(stub, MONTHS, 28).health.checks}["holdout"]
    assert asked.verdict == pb.HEALTH_VERDICT_REVIEW, asked
    assert asked.message.startswith("holdout (28 days) not run"), asked.message


@pytest.mark.parametrize(
    ("n_days", "default", "held"),
    [(60, True, 28), (69, True, 28), (70, True, 14), (76, True, 20), (83, True, 27),
     (84, True, 28), (120, True, 28), (76, False, 28), (70, False, 28)],
)  # fmt: skip
def test_the_default_holdout_is_the_longest_the_window_allows(
    n_days: int, default: bool, held: int
) -> None:
    spec = ModelSpec(holdout_days=28, holdout_fit_to_window=default)
    assert holdout_days(spec, n_days) == held


def test_a_window_that_allows_a_shorter_holdout_names_it() -> None:
    """In process: 76 days leave 48 training days at the default 28, and allow 14 to 20."""
    fit = fit_mmm(world("demo", 2, days=76, n_geos=10).panel, ModelSpec())
    skipped = assess(fit)
    (check,) = [c for c in skipped.checks if c.name == "holdout"]
    assert check.verdict == "review" and skipped.holdout is None, check
    assert check.message.endswith(
        "analyse at least 84 days, or hold out fewer days (--holdout-days / holdout_days 14 to "
        "20 on this window)"
    ), check.message
    # the fix it names works: 20 days held out, 18 scored (Thanksgiving and Black Friday are
    # unseen), judged
    spec = dataclasses.replace(fit.spec, holdout_days=20)
    judged = assess(dataclasses.replace(fit, spec=spec))
    assert judged.holdout is not None and judged.holdout.days == 20, judged.checks


def test_a_spec_stored_before_the_default_holdout_could_shorten_still_reads() -> None:
    # analyses keep their spec pickled (FitState); one stored before holdout_fit_to_window
    # existed has one field less: it reads as a holdout held exactly, and replace() works
    stored = ModelSpec(max_lag=40)
    old = ModelSpec.__new__(ModelSpec)
    old.__setstate__([getattr(stored, f.name) for f in dataclasses.fields(stored)][:-1])
    assert old.holdout_fit_to_window is False and old.max_lag == 40
    assert dataclasses.replace(old, holdout_days=14) == ModelSpec(max_lag=40, holdout_days=14)
