"""Whose holidays the attribution model controls (audit R21 F10, F4): the calendar is the one
the records' geos name ("AU-NSW", "GB-ENG", "US-CA"), not always the US's. Over a real mesh
(memory, the ingestion registry, causal) the same simulated business analysed as a US org and
as an Australian one controls each country's own holidays, says whose in its progress, and a
business across two countries is warned, naming both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from causal_svc.attribution.calendar import model_calendar, national_design

from .records import world_mesh, world_records

# the simulated world's states, renamed to Australian states; and half of them to British nations
AU = {"CA": "AU-NSW", "TX": "AU-VIC", "FL": "AU-QLD", "NY": "AU-WA", "IL": "AU-SA", "PA": "AU-TAS"}
MIXED = {"CA": "US-CA", "TX": "US-TX", "FL": "GB-ENG", "NY": "GB-SCT", "IL": "GB-WLS",
         "PA": "US-PA"}  # fmt: skip


def _renamed(
    world: sim.SimResult, org: str, geos: dict[str, str]
) -> Iterator[md_pb.CausalMarketingData]:
    for r in world_records(world, org):
        r.geo = geos[r.geo]
        yield r


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=6)


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult):
    assert sorted(set(world.outcomes["region"].astype(str))) == sorted(AU)
    extra = {"aushop": _renamed(world, "aushop", AU), "mixshop": _renamed(world, "mixshop", MIXED)}
    with world_mesh(tmp_path_factory.mktemp("mesh"), {"usshop": world}, extra=extra) as services:
        yield causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))


def _analyze(stub, org: str) -> tuple[str, pb.AttributionResult]:
    events = list(stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=org), timeout=600))
    retrieve = next(e.progress.message for e in events if e.progress.stage == "retrieve")
    return retrieve, events[-1].result


def _holidays(result: pb.AttributionResult) -> set[str]:
    return {c.split(":", 2)[2] for c in result.controls if c.startswith("holiday:")}


def test_each_org_controls_its_own_countrys_holidays(stub, world: sim.SimResult) -> None:
    """Before: every org's model controlled the US calendar (ModelSpec.country "US"): an
    Australian org's Thanksgiving, Veterans Day and Black Friday weekend dummies, and no
    Boxing Day."""
    first = str(world.dates[0])[:10]
    assert first <= "2024-11-11" and str(world.dates[-1])[:10] >= "2024-12-26"
    us_progress, us = _analyze(stub, "usshop")
    au_progress, au = _analyze(stub, "aushop")
    assert "holiday calendar: US" in us_progress, us_progress
    assert "holiday calendar: AU" in au_progress and "NSW" in au_progress, au_progress
    assert {"Thanksgiving Day", "Veterans Day", "Black Friday"} <= _holidays(us)
    assert "Boxing Day" not in _holidays(us)
    assert {"Christmas Day", "Boxing Day", "Black Friday", "Cyber Monday"} <= _holidays(au)
    assert not {"Thanksgiving Day", "Veterans Day", "Columbus Day"} & _holidays(au)
    assert "december_gifting_weeks" in au.controls
    assert not [w for w in (*us.warnings, *au.warnings) if "holiday calendar" in w]


def test_an_org_across_countries_is_warned_naming_them(stub) -> None:
    progress, mixed = _analyze(stub, "mixshop")
    assert "holiday calendar: " in progress and "US" in progress and "GB" in progress, progress
    warned = [w for w in mixed.warnings if "several countries" in w]
    assert len(warned) == 1 and "US" in warned[0] and "GB" in warned[0], mixed.warnings


DAYS = np.arange(np.datetime64("2024-03-25"), np.datetime64("2024-09-01"))


def _controlled(geos: tuple[str, ...], weights: tuple[float, ...]) -> tuple[set[str], str, str]:
    outcome = np.asarray(weights, dtype=np.float64)[:, None] * np.ones(DAYS.size)
    cal = model_calendar(geos, outcome, DAYS)
    names = national_design(DAYS, None, cal)[1]
    return {n.split(":", 2)[2] for n in names if n.startswith("holiday:")}, cal.label, cal.note


def test_a_subdivisions_holiday_counts_where_most_of_the_outcome_is() -> None:
    """F4: England's Easter Monday and August bank holiday (not in the UK-wide list) count
    for an org selling mostly in England; Scotland's 5 August for one selling mostly there."""
    england, label, note = _controlled(("GB-ENG", "GB-SCT"), (80.0, 20.0))
    assert {"Good Friday", "Easter Monday", "Late Summer Bank Holiday"} <= england
    assert "Summer Bank Holiday" not in england and note == ""
    assert label == "GB (subdivisions by revenue: ENG 80%, SCT 20%)"
    scotland, _, _ = _controlled(("GB-ENG", "GB-SCT"), (20.0, 80.0))
    assert "Summer Bank Holiday" in scotland and "Easter Monday" not in scotland


def test_geos_naming_no_country_fall_back_to_the_us_with_a_warning() -> None:
    held, label, note = _controlled(("DMA-501", "DMA-803"), (1.0, 1.0))
    assert label == "US" and "Independence Day" in held
    assert "no geo names its country" in note and "'DMA-501'" in note


def test_days_past_the_known_calendar_are_said() -> None:
    days = np.arange(np.datetime64("2100-12-01"), np.datetime64("2101-01-31"))
    cal = model_calendar(("GB-ENG",), np.ones((1, days.size)), days)
    assert "not known after 2100" in cal.note
    assert dt.date(2100, 12, 25) in {d for d, _ in cal.days}
