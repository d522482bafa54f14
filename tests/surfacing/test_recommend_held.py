"""R42-F1: a channel whose registered experiment runs, or ended without its result, in or near
the analysis window is held, naming the test and its read-out, whatever the model's draws say;
the reallocation does not move it either. A recorded result, or a calibration by the test (or
by a newer test of the channel), lifts the hold; an ended test unrecorded holds for
READ_OUT_DAYS after its end and says so (s19 V2-F5, F10)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from surfacing_svc.planning import PlanningModel, RecommendQuestion, answer_recommend
from surfacing_svc.recommend import ActionKind
from surfacing_svc.registered_holds import NEAR_DAYS, READ_OUT_DAYS, awaiting_read_out
from surfacing_svc.usual_spend import RegisteredTest, RegisteredTests
from tests.surfacing.curves_fixtures import hill

START, END = dt.date(2025, 1, 1), dt.date(2025, 1, 30)
# Marginal returns at current spend (see test_recommend): meta 2.2 (scale), google and
# tiktok 0.14 (cut).
MODEL = PlanningModel(
    analysis_id="an", outcome="revenue", start=START, end=END,
    curves=(
        hill("meta", spend=100.0, scale=1000.0, kappa=2.0, spread=0.05, seed=1),
        hill("google", spend=100.0, scale=80.0, kappa=0.3, spread=0.05, seed=2),
        hill("tiktok", spend=100.0, scale=80.0, kappa=0.3, spread=0.05, seed=3),
    ),
    baseline_total=10_000.0,
)  # fmt: skip
Q = RecommendQuestion("o", ("an",), design_tests=False)
HOLDOUT = RegisteredTest(
    "exp_1", "google", dt.date(2025, 1, 20), dt.date(2025, 2, 16), "running",
    ("US-TX", "US-FL"), ("US-CA",), frozenset({"control"}),
)  # fmt: skip


def _by_channel(tests: list[RegisteredTest], model: PlanningModel = MODEL):
    answer = answer_recommend(model, Q, None, tests=RegisteredTests(tests))
    return {a.channel: a for a in answer.actions}, answer


def test_a_running_test_holds_its_channel_and_names_the_read_out() -> None:
    blind, _ = _by_channel([])
    assert blind["google"].kind is ActionKind.CUT  # what the model alone says
    assert "google" in blind[""].action  # and the reallocation takes from it
    seen, answer = _by_channel([HOLDOUT])
    held = seen["google"]
    assert held.kind is ActionKind.HOLD
    assert held.proposed_spend == held.current_spend == 100.0 and held.impact.estimate == 0.0
    assert "exp_1" in held.action and "read-out due after 2025-02-16" in held.action
    assert (
        "2025-01-20..2025-02-16" in held.rationale
        and "as of the analysis's last day 2025-01-30 it runs to 2025-02-16" in held.rationale
    )
    # The model's cut is said as what the model alone would do, never as the action.
    assert f"the observational model alone would {blind['google'].action}" in held.rationale
    (alone,) = [f for f in held.facts if f.name == "model_alone"]
    assert alone.value == blind["google"].impact
    # The other channels are the model's as before; the reallocation leaves google alone.
    assert seen["meta"].kind is ActionKind.SCALE and seen["tiktok"].kind is ActionKind.CUT
    assert "google" not in seen[""].action and "tiktok" in seen[""].action
    (said,) = [w for w in answer.warnings if "exp_1" in w]
    assert "google is held at its current spend" in said


def test_an_ended_test_without_its_result_holds_until_it_is_recorded() -> None:
    ended = replace(
        HOLDOUT, start=dt.date(2025, 1, 2), end=dt.date(2025, 1, 29), status="completed"
    )
    held = _by_channel([ended])[0]["google"]
    assert held.kind is ActionKind.HOLD
    # said by its state, with the way out and the day the hold ends (it said "exp_1 is
    # testing it (read-out due after 2025-01-29)" before V2-F5)
    assert held.action == (
        "hold google at its current spend: exp_1 ended 2025-01-29 without a recorded result: "
        "record it (liftos experiments record) or the hold lapses on 2025-02-26"
    )
    assert "ended 2025-01-29 and no result is recorded" in held.rationale
    assert "liftos estimate --experiment exp_1 --record" in held.rationale
    assert "`liftos experiments record exp_1` for a result read outside LiftOS" in held.rationale
    assert "the hold lapses on 2025-02-26, 28 days after the test's end" in held.rationale
    # Recorded: the hold is lifted (an analysis re-run is calibrated by it).
    assert _by_channel([replace(ended, read_out=True)])[0]["google"].kind is ActionKind.CUT
    # Already calibrating this analysis: the model's own evidence.
    calibrated = replace(MODEL, calibrated_by=("exp_1",))
    assert _by_channel([ended], calibrated)[0]["google"].kind is ActionKind.CUT


def test_a_scale_and_an_unidentified_channel_are_held_too() -> None:
    on_meta = replace(HOLDOUT, channel="meta")
    held = _by_channel([on_meta])[0]["meta"]
    assert held.kind is ActionKind.HOLD and "would raise meta spend by 30%" in held.rationale
    unknown = replace(MODEL, curves=(*MODEL.curves[:2], replace(MODEL.curves[2], identified=False)))
    test = _by_channel([], unknown)[0]["tiktok"]
    assert test.kind is ActionKind.TEST
    held = _by_channel([replace(HOLDOUT, channel="tiktok")], unknown)[0]["tiktok"]
    assert held.kind is ActionKind.HOLD and held.design is None
    assert "would propose a test" in held.rationale


def test_an_unrecorded_test_holds_for_its_read_out_period_not_the_window() -> None:
    """V2-F5: a test ended 2024-12-10 held google on every 180-day analysis up to 2025-07-01,
    "exp_1 is testing it". Now it holds analyses ending before 2025-01-07 only."""
    ended = replace(HOLDOUT, start=dt.date(2024, 11, 13), end=dt.date(2024, 12, 10),
                    status="completed")  # fmt: skip
    for last, held in ((dt.date(2025, 1, 6), True), (dt.date(2025, 1, 7), False),
                       (dt.date(2025, 7, 1), False)):  # fmt: skip
        model = replace(MODEL, start=last - dt.timedelta(days=179), end=last)
        seen, answer = _by_channel([ended], model)
        assert (seen["google"].kind is ActionKind.HOLD) is held, last
        assert any("exp_1" in w for w in answer.warnings) is held, last
        if not held:
            assert seen["google"].kind is ActionKind.CUT  # the model alone, as with no test


def test_a_channel_calibrated_by_a_newer_test_is_not_held_for_an_older_unread_one() -> None:
    """V2-F10: google calibrated by exp_new (read out) was still held for exp_old, an earlier
    test of it never recorded. A test newer than the calibration still holds."""
    new = replace(HOLDOUT, experiment_id="exp_new", start=dt.date(2025, 1, 1),
                  end=dt.date(2025, 1, 28), status="completed", read_out=True)  # fmt: skip
    old = replace(new, experiment_id="exp_old", start=dt.date(2024, 12, 20),
                  end=dt.date(2025, 1, 10), read_out=False)  # fmt: skip
    calibrated = replace(MODEL, calibrated_by=("exp_new",))
    assert _by_channel([old, new], calibrated)[0]["google"].kind is ActionKind.CUT
    # without the calibration, the unread test holds as before
    assert _by_channel([old, new])[0]["google"].kind is ActionKind.HOLD
    # a test ending after the calibrating one is one the calibration does not cover
    later = replace(old, start=dt.date(2025, 1, 15), end=dt.date(2025, 1, 29))
    held = _by_channel([later, new], calibrated)[0]["google"]
    assert held.kind is ActionKind.HOLD and "exp_old" in held.action


def test_an_at_risk_channel_held_is_not_said_to_be_raised_by_the_model_alone() -> None:
    """V2-F5: meta's draws ask to scale, but its identification is at risk, so Recommend alone
    proposes a test; held for a registered test, its "model alone" fact said the raise."""
    risky = replace(MODEL, budget_response_share=0.6)
    assert _by_channel([], risky)[0]["meta"].kind is ActionKind.TEST
    held = _by_channel([replace(HOLDOUT, channel="meta")], risky)[0]["meta"]
    assert held.kind is ActionKind.HOLD
    (alone,) = [f.text for f in held.facts if f.name == "model_alone"]
    assert alone.startswith("the observational model alone would not raise meta spend by 30%")
    assert "its identification is at risk" in alone and "it would propose a test" in alone


@pytest.mark.parametrize(
    ("start", "end", "held"),
    [
        # ended before the analysis's last day: held for READ_OUT_DAYS after its end
        (START - dt.timedelta(days=60), END - dt.timedelta(days=READ_OUT_DAYS), False),
        (START - dt.timedelta(days=60), END - dt.timedelta(days=READ_OUT_DAYS - 1), True),
        (END + dt.timedelta(days=NEAR_DAYS), END + dt.timedelta(days=60), True),
        (END + dt.timedelta(days=NEAR_DAYS + 1), END + dt.timedelta(days=60), False),
    ],
)
def test_near_is_within_near_days_of_the_window(start: dt.date, end: dt.date, held: bool) -> None:
    test = replace(HOLDOUT, start=start, end=end)
    assert bool(awaiting_read_out([test], START, END)) is held


def test_an_unread_registry_is_said() -> None:
    answer = answer_recommend(MODEL, Q, None, tests=RegisteredTests([], "ListExperiments: down"))
    assert any("could not be read (ListExperiments: down)" in w and "not held" in w
               for w in answer.warnings)  # fmt: skip


@pytest.mark.parametrize("spelled", ["Google", " google ", "GOOGLE"])
def test_a_test_registered_under_another_spelling_holds_the_analysis_channel(spelled: str) -> None:
    """s19 V2-F11: the registry keeps the channel as typed; the hold matched it exactly while its
    warning did not, so "Google is held" was said beside an action cutting google."""
    seen, answer = _by_channel([replace(HOLDOUT, channel=spelled)])
    assert seen["google"].kind is ActionKind.HOLD and "exp_1" in seen["google"].action
    (said,) = [w for w in answer.warnings if "exp_1" in w]
    assert "google is held at its current spend" in said


def test_a_test_of_a_channel_the_analysis_does_not_model_holds_nothing() -> None:
    seen, answer = _by_channel([replace(HOLDOUT, channel="meta_prospecting")])
    assert seen["google"].kind is ActionKind.CUT
    (said,) = [w for w in answer.warnings if "exp_1" in w]
    assert said == (
        "registered experiment exp_1 tests meta_prospecting, which this analysis does not "
        "model: nothing is held for it"
    )
