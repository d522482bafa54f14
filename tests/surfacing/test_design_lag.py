"""A design read off an analysis whose lag_beyond_window check found the channel's effect
arriving after the test ends (s18 R37 F1: `design --channel linkedin --weeks 4` expected a
28-day go-dark to move revenue that arrives 60-90 days after the spend, and said nothing).
The check's words come from a real fit of R37's B2B world (tests/causal/attribution/
test_health_lag), carried as the planning model carries a REVIEW check."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from causal_svc.attribution import Verdict
from causal_svc.attribution.health_lag import lag_beyond_window
from surfacing_svc.design import CellSpec, DesignSpec, TreatmentKind
from surfacing_svc.history import GeoHistory
from surfacing_svc.planning import DesignQuestion, PlanningModel, answer_design
from tests.causal.attribution.test_health_lag import _fit
from tests.surfacing.curves_fixtures import hill
from tests.surfacing.worlds import geo_history

CURVE = hill("linkedin", spend=1e5, scale=6e5, kappa=1.0, spread=0.3)


@pytest.fixture(scope="module")
def found() -> str:
    check = lag_beyond_window(_fit(102, (60, 90)))
    assert check is not None and check.verdict is Verdict.REVIEW
    return f"the model's health verdict is REVIEW: {check.message}"  # convert/models.py's words


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    h: GeoHistory = geo_history(n_geos=20, n_days=200)
    rows = []
    for g, geo in enumerate(h.geos):
        for t, day in enumerate(h.dates):
            rows.append((day, "generic", "first_party", geo, 0.0, h.outcome[g, t]))
            rows.append((day, "linkedin", "linkedin", geo, h.spend["meta"][g, t], 0.0))
    out = pd.DataFrame(rows, columns=["local_date", "data_source", "channel", "geo", "spend",
                                      "revenue"])  # fmt: skip
    return out.assign(conversions=out["revenue"] / 80.0, impressions=0.0)


def _warnings(frame: pd.DataFrame, warnings: tuple[str, ...], weeks: int) -> tuple[str, ...]:
    model = PlanningModel("an-1", "revenue", dt.date(2024, 1, 1), dt.date(2024, 11, 25),
                          (CURVE,), baseline_total=1e7, warnings=warnings)  # fmt: skip
    spec = DesignSpec("linkedin", cells=(CellSpec(TreatmentKind.GO_DARK, 0.0),),
                      durations=(7 * weeks,))  # fmt: skip
    question = DesignQuestion("o", spec, None, None, None, analysis_id="an-1")  # type: ignore[arg-type]
    return answer_design(frame, question, model)[0].warnings


def test_a_test_that_ends_before_the_effect_arrives_says_so(
    frame: pd.DataFrame, found: str
) -> None:
    said = [w for w in _warnings(frame, (found,), 4) if "lag_beyond_window" in w]
    assert said == [
        "the analysis found linkedin's effect may arrive 66-84 days after its spend (its "
        "lag_beyond_window check), later than this test's longest duration (28 days): the test "
        "measures only what arrives inside it, and its expected lift, read off a model that "
        "missed the late effect, leaves it out; read the outcome until 84 days after the spend "
        "change, or test an outcome that follows the spend sooner (leads: --metric conversions)"
    ]
    # a test long enough to see it, or an analysis without the finding: nothing to say
    assert not [w for w in _warnings(frame, (found,), 13) if "lag_beyond_window" in w]
    assert not [w for w in _warnings(frame, (), 4) if "lag_beyond_window" in w]
    other = found.replace("linkedin's spend", "meta's spend")
    assert not [w for w in _warnings(frame, (other,), 4) if "lag_beyond_window" in w]
