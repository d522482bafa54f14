"""The simulator registers its geo holdout "completed" (s19, K's note: completed while the
world's data still runs inside it?). It is right as of the export: the holdout takes the
world's last days, so its end_date is the last simulated day, and the exports are pulled the
morning after (sim.io.pulled_at), when that day has ended in every account's zone. A weekly
loop that ingests the world a week at a time sees an analysis end before the test does;
surfacing's hold says the test's state as of the analysis's last day for that (34ea78d)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import sim
from sim.io import pulled_at


def _short() -> sim.SimResult:
    return sim.simulate("demo", seed=3, days=45, n_orgs=2, n_geos=5, n_campaigns=7, dirt=False)


@pytest.mark.parametrize("world", ["demo", "short"])
def test_the_holdout_ends_on_the_last_day_and_before_the_pull(
    world: str, demo: sim.SimResult
) -> None:
    result = demo if world == "demo" else _short()
    first = dt.date.fromisoformat(result.truth["start"])
    last = first + dt.timedelta(days=result.truth["days"] - 1)
    pull = pulled_at(result.truth)
    assert result.experiments, "the demo scenario registers a geo holdout"
    for e in result.experiments:
        end = dt.date.fromisoformat(e["end_date"])
        assert first < dt.date.fromisoformat(e["start_date"]) <= end == last, e
        assert e["status"] == "completed", e
        zones = {a["timezone"] for a in result.accounts if a["org_id"] == e["org_id"]}
        for zone in zones:  # the test's last local day is over when the exports are pulled
            assert pull >= dt.datetime.combine(
                end + dt.timedelta(days=1), dt.time(), ZoneInfo(zone)
            )
