"""A channel that started or stopped inside the analysis window (R48-F2): causal's spans of
it (causal_svc/attribution/channel_span.py, sent as ChannelResponseModel.active_days and
stopped) are what its note says, and optimize's note gives the plan's change from what it
spends now."""

from __future__ import annotations

import numpy as np

from causal_svc.attribution.channel_span import Span, span_notes, spans
from surfacing_svc.actions import Action, ActionKind
from surfacing_svc.flighted_actions import flighted
from surfacing_svc.intervals import Interval
from surfacing_svc.usual_spend import RanDays, run_rate_notes

DATES = np.arange("2026-08-03", "2026-11-01", dtype="datetime64[D]")  # 90 days


def _grid(on: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.where(on, 8.0, 0.0), (1, 4, on.size)).copy()


def test_the_spans_are_the_days_the_note_names() -> None:
    days = np.arange(DATES.size)
    launched, stopped, always = _grid(days >= 40), _grid(days < 75), _grid(days >= 3)
    grid = np.concatenate([launched, stopped, always])
    found = spans(("meta ads", "google", "tiktok"), grid)
    assert found == {"meta ads": Span(40, 89, 90), "google": Span(0, 74, 90)}
    assert (found["meta ads"].days, found["meta ads"].stopped) == (50, False)
    assert (found["google"].days, found["google"].stopped) == (75, True)
    notes = span_notes(("meta ads", "google", "tiktok"), grid, np.array([True] * 3), DATES)
    assert [n.split(" (")[1].split(")")[0] for n in notes] == [
        "50 of the window's 90 days", "75 of the window's 90 days",
    ]  # fmt: skip


def test_a_launched_channel_gets_its_run_rate_and_the_plans_change_from_it() -> None:
    # R48's shop: meta's window mean 543 per 30 days, 977 since its launch; the plan's 687
    # was "+27%".
    (note,) = run_rate_notes([("meta", 543.0, 687.0), ("google", 777.0, 983.0)],
                             {"meta": RanDays(50, 90, False)}, 30)  # fmt: skip
    assert note.startswith(
        "meta: its current spend (543 over 30 days) is its mean over the analysis window, which "
        "counts the 40 days of the window's 90 it did not run as none: since it started it "
        "spends 977 per 30 days, against which the plan's 687 is -30%, not the +27% shown"
    )


def test_a_stopped_channel_is_a_restart() -> None:
    (note,) = run_rate_notes([("google", 700.0, 900.0)], {"google": RanDays(75, 90, True)}, 30)
    assert "it has spent nothing since it stopped, so the plan's 900 restarts it" in note


def test_a_plan_of_nothing_reads_as_off_or_a_stop() -> None:
    """s20 V1 F2: a plan of 0 (a bound the note itself suggests) read "the plan's 0 restarts
    it" and "the plan's 0 is -100%, not the -100% shown"."""
    (stopped,) = run_rate_notes([("google", 700.0, 0.0)], {"google": RanDays(75, 90, True)}, 30)
    assert "so the plan keeps it off (over the days it ran it spent" in stopped, stopped
    (launched,) = run_rate_notes([("meta", 543.0, 0.0)], {"meta": RanDays(50, 90, False)}, 30)
    assert launched.endswith("since it started it spends 977 per 30 days, which the plan stops")


def _action(kind: ActionKind, channel: str, current: float, proposed: float) -> Action:
    return Action(kind, channel, f"{kind.value} {channel}", "the draws say so",
                  Interval(-5.0, -9.0, -1.0, 0.9), 0.98, (), current, proposed)  # fmt: skip


def test_recommend_says_a_stopped_channels_cut_as_leaving_it_off() -> None:
    """R51-F5: recommend said "[CUT] cut tiktok spend by 30% to 750,292, confidence 98%" for a
    Q4-only channel that had spent nothing for nine months; no line said it had stopped."""
    ran = {"tiktok": RanDays(61, 400, True), "meta": RanDays(50, 90, False)}
    actions = [_action(ActionKind.CUT, "tiktok", 1_071_846.0, 750_292.0),
               _action(ActionKind.SCALE, "meta", 543.0, 687.0),
               _action(ActionKind.CUT, "google", 900.0, 700.0)]  # fmt: skip
    out = {a.channel: a for a in flighted(actions, ran, 400)}
    off = out["tiktok"]
    assert (off.kind, off.action) == (ActionKind.HOLD, "leave tiktok off")
    # it spends nothing now and the proposal is nothing (V2-F4: proposed_spend had been the
    # window mean, a restart at the old level on the wire)
    assert off.impact.estimate == 0.0 and off.current_spend == off.proposed_spend == 0.0
    assert "has spent nothing since it stopped;" in off.rationale
    assert "so there is no spend to cut" in off.rationale
    assert "the draws say so" in off.rationale  # the model's own reading is kept, said as such
    (fact,) = [f.text for f in off.facts if f.name == "ran_part_of_window"]
    assert "so the plan keeps it off" in fact and "restarts" not in fact
    # a launched channel keeps its move, with the run rate beside it
    assert out["meta"].kind is ActionKind.SCALE
    assert any("since it started it spends" in f.text for f in out["meta"].facts)
    # a channel that ran throughout is untouched
    assert out["google"] == actions[2]
    # the hold ranks after the moves
    assert [a.channel for a in flighted(actions, ran, 400)][-1] == "tiktok"


def test_a_stopped_channels_raise_is_said_as_a_restart() -> None:
    """V2-F7: a stopped channel's SCALE kept "increase tiktok spend by 20% to 1,286,215"."""
    ran = {"tiktok": RanDays(61, 400, True)}
    (a,) = flighted([_action(ActionKind.SCALE, "tiktok", 1_071_846.0, 1_286_215.0)], ran, 400)
    assert a.kind is ActionKind.SCALE and a.current_spend == 0.0
    assert a.proposed_spend == 1_286_215.0
    assert a.action == (
        "restart tiktok at 1,286,215 over 400 days (while it ran it spent at 7,028,498 per 400 days)"
    )
    assert "has spent nothing since it stopped" in a.rationale
