"""Treatment assignment from the registry: deterministic by unit, scoped, with intensities."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.assignment import assign
from ingestion_svc.convert import experiment_from_proto
from ingestion_svc.experiments import Experiment

D = dt.date(2024, 11, 1)


def _rows(geos: list[str], days: list[str] | None = None, campaign: str = "c1") -> pd.DataFrame:
    days = days or ["2024-11-10"] * len(geos)
    return pd.DataFrame(
        {
            "local_date": np.array(days, dtype="datetime64[s]"),
            "campaign_id": campaign,
            "account_id": "a1",
            "geo": [f"US-{g}" for g in geos],
            "geo_key": geos,
        }
    )


def _exp(eid: str = "e1", **kw: object) -> Experiment:
    fields: dict[str, object] = dict(
        org_id="acme", experiment_id=eid, start_date=D, end_date=D + dt.timedelta(days=29),
        randomization_unit="RANDOMIZATION_UNIT_GEO", treatment_share=0.5,
    )  # fmt: skip
    fields.update(kw)
    return Experiment(**fields)  # type: ignore[arg-type]


STATES = [f"S{i:02d}" for i in range(400)]


def test_hash_assignment_is_deterministic_and_near_the_share() -> None:
    exp = _exp(treatment_share=0.3)
    first = assign(_rows(STATES), "meta", [exp])
    again = assign(_rows(STATES[::-1]), "meta", [exp])["treatment_group"].to_numpy()[::-1]
    assert (first["treatment_group"].to_numpy() == again).all()  # order does not matter
    share = (first["treatment_group"] == "treatment").mean()
    assert abs(share - 0.3) < 3 * np.sqrt(0.3 * 0.7 / 400)
    # Another experiment hashes the same units independently.
    other = assign(_rows(STATES), "meta", [_exp("e2", treatment_share=0.3)])
    assert (other["treatment_group"] != first["treatment_group"]).any()
    assert set(first["randomization_unit"]) == {"geo"} and set(first["experiment_id"]) == {"e1"}


def test_scope_window_sources_campaigns_and_overlaps() -> None:
    rows = _rows(["CA", "CA", "TX"], ["2024-10-31", "2024-11-10", "2024-11-10"])
    exp = _exp(treatment_units=("CA",), control_units=("TX",), data_sources=("DATA_SOURCE_META",))
    got = assign(rows, "meta", [exp])["treatment_group"].tolist()
    assert got == ["not_in_experiment", "treatment", "control"]  # before the window: out
    assert set(assign(rows, "tiktok", [exp])["treatment_group"]) == {"not_in_experiment"}
    scoped = _exp(campaign_ids=("c9",), treatment_units=("CA",), control_units=("TX",))
    assert set(assign(rows, "meta", [scoped])["treatment_group"]) == {"not_in_experiment"}
    # Overlapping experiments: the one created first governs the row.
    later = _exp("e2", treatment_units=("TX",), control_units=("CA",))
    ids = assign(rows, "meta", [exp, later])["experiment_id"].tolist()
    assert ids == ["", "e1", "e1"]


def test_switchback_and_units_aggregate_rows_cannot_carry() -> None:
    days = [f"2024-11-{d:02d}" for d in range(1, 31)]
    rows = _rows(["CA"] * 30, days)
    switch = assign(rows, "meta", [_exp(randomization_unit="RANDOMIZATION_UNIT_TIME_PERIOD")])
    arms = switch["treatment_group"]
    assert set(arms) == {"treatment", "control"} and set(switch["randomization_unit"]) == {
        "time_period"
    }
    users = assign(rows, "meta", [_exp(randomization_unit="RANDOMIZATION_UNIT_USER")])
    assert set(users["treatment_group"]) == {"not_in_experiment"}


def test_intensities_follow_the_treatment_type() -> None:
    def stored(kind: int, treat: dict[str, float], control: dict[str, float]) -> Experiment:
        msg = md_pb.CausalExperiment(
            org_id="acme", experiment_id="x", treatment_type=kind,
            start_date=common_pb.Date(year=2024, month=11, day=1),
            end_date=common_pb.Date(year=2024, month=11, day=30),
            randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
            treatment_config=md_pb.TreatmentConfig(**treat),
            control_config=md_pb.TreatmentConfig(**control),
        )  # fmt: skip
        return experiment_from_proto(msg, dt.datetime.now(dt.UTC))[0]

    holdout = stored(
        md_pb.TREATMENT_TYPE_HOLDOUT, {"spend_multiplier": 1.0}, {"spend_multiplier": 0.0}
    )
    assert (holdout.treatment_intensity, holdout.control_intensity) == (1.0, 0.0)
    budget = stored(
        md_pb.TREATMENT_TYPE_BUDGET_INCREASE, {"spend_multiplier": 1.5}, {"spend_multiplier": 1.0}
    )
    assert (budget.treatment_intensity, budget.control_intensity) == (1.5, 1.0)
    explicit = stored(md_pb.TREATMENT_TYPE_CREATIVE, {"intensity": 0.7}, {})
    assert (explicit.treatment_intensity, explicit.control_intensity) == (0.7, 0.0)
    rows = _rows(["CA", "TX"])
    exp = _exp(treatment_units=("CA",), control_units=("TX",), treatment_intensity=1.5,
               control_intensity=1.0)  # fmt: skip
    assert assign(rows, "meta", [exp])["treatment_intensity"].tolist() == [1.5, 1.0]
