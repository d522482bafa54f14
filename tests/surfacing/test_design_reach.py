"""DesignExperiment's 'why not reachable' words: a duration beyond any practical test is not
quoted as a figure (an audit's history printed 'about 255799098326 days')."""

from __future__ import annotations

import re

from surfacing_svc.design import DesignSpec, design_experiment
from tests.surfacing.worlds import geo_history


def _reason(lift: float) -> str:
    h = geo_history(n_geos=12, n_days=150)
    cell = design_experiment(h, DesignSpec("meta", lift=lift, durations=(14, 28))).cells[0]
    assert not cell.feasible
    return cell.reason


def test_a_reachable_duration_is_quoted_in_days() -> None:
    # 2% needs a few months on this history: the figure is a plan someone could run.
    days = re.search(r"would take about (\d+) days", _reason(0.02))
    assert days is not None and 28 < int(days.group(1)) <= 730


def test_a_target_out_of_practical_reach_says_so_without_an_astronomical_figure() -> None:
    reason = _reason(0.002)
    assert "no practical test reaches the target" in reason
    assert "would take about" not in reason
    # No number of days longer than the cap's own figure (the heavy-up offered after it,
    # R48-F3, quotes spend in money).
    days = reason.split("; a go-dark can remove only")[0]
    assert max(len(n) for n in re.findall(r"\d+", days.replace(",", ""))) <= 3
