"""A registered experiment's units label records at ingest by the rule causal estimates them
with (mesh.runtime.geo_units): a unit is a geo in any case, or its subdivision code. Before,
ingestion matched units by exact equality, so an experiment registered with "tx" or "us-tx"
was estimated by causal on US-TX's records while Ingest stored those records
``not_in_experiment`` (real memory and ingestion servers, records read back by Scan)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.main import Build
from mesh.sdk.client import LiftOS, dc
from tests.ingestion.conftest import PULLED, stored_records

REGIONS = {"Texas": "US-TX", "California": "US-CA", "New York": "US-NY"}


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeerConfig]:
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("units")) as services:
        yield PeerConfig.from_env().with_overrides(
            **{name: s.address for name, s in services.items()}
        )


def _experiment(treatment: str, control: str) -> dc.CausalExperiment:
    return dc.CausalExperiment(
        experiment_id="tx-holdout",
        name="Texas holdout",
        channel="meta",
        start_date=dc.Date(year=2024, month=9, day=1),
        end_date=dc.Date(year=2024, month=9, day=30),
        randomization_unit=dc.RandomizationUnit.GEO,
        treatment_type=dc.TreatmentType.HOLDOUT,
        treatment_units=[treatment],
        control_units=[control],
        data_sources=[dc.DataSource.META],
        treatment_config=dc.TreatmentConfig(spend_multiplier=0.0, intensity=1.0),
        control_config=dc.TreatmentConfig(spend_multiplier=1.0),
    )


def _rows(world: sim.SimResult) -> list[dict[str, Any]]:
    """One Meta row of 2024-09-15 per region of REGIONS, the world's first row otherwise."""
    base = world.raw["meta"].base_row(0)
    assert base["date_start"] == "2024-09-15", base
    rows = []
    for region in REGIONS:
        row = copy.deepcopy(base)
        row["region"] = region
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("org", "treatment", "control"),
    [
        ("lower", "tx", "ca"),
        ("upper", "TX", "CA"),
        ("full", "us-tx", "Us-Ca"),
        ("exact", "US-TX", "US-CA"),
    ],
)
def test_a_record_of_us_tx_carries_the_arm_of_a_unit_spelled_tx(
    peers: PeerConfig, world: sim.SimResult, org: str, treatment: str, control: str
) -> None:
    account = {**next(a for a in world.accounts if a["source"] == "meta"), "country": "US"}
    with LiftOS(peers, org_id=org) as client:
        client.create_experiment(_experiment(treatment, control))
        summary = client.ingest("meta", _rows(world), account=account, pulled_at=PULLED)
    assert summary.accepted == len(REGIONS), summary
    records = {r.geo: r for r in stored_records(peers.memory, org)}
    assert set(records) == set(REGIONS.values())
    arms = {geo: r.treatment_group for geo, r in records.items()}
    assert arms == {
        "US-TX": md_pb.TREATMENT_GROUP_TREATMENT,
        "US-CA": md_pb.TREATMENT_GROUP_CONTROL,
        "US-NY": md_pb.TREATMENT_GROUP_NOT_IN_EXPERIMENT,
    }, (treatment, control)
    assert records["US-TX"].experiment_id == "tx-holdout"
    assert records["US-CA"].experiment_id == "tx-holdout"
    assert records["US-NY"].experiment_id == ""
    assert dt.date(2024, 9, 15) == dt.date(
        records["US-TX"].local_date.year,
        records["US-TX"].local_date.month,
        records["US-TX"].local_date.day,
    )


def test_only_geos_are_matched_by_the_geo_rule() -> None:
    """Campaign and account ids are ids: "tx" is not campaign "BRAND-TX", nor "Brand" "brand"."""
    from ingestion_svc.experiments import Experiment

    day = dt.date(2024, 9, 1)
    geo = Experiment("acme", "g", day, day, "RANDOMIZATION_UNIT_GEO", ("tx",), ("ca",))
    assert [geo.arm_for(g) for g in ("US-TX", "us-ca", "TX", "US-NY", "US")] == [
        "treatment", "control", "treatment", None, None,
    ]  # fmt: skip
    campaign = Experiment("acme", "c", day, day, "RANDOMIZATION_UNIT_CAMPAIGN", ("tx",), ("Brand",))
    assert [campaign.arm_for(c) for c in ("BRAND-TX", "tx", "brand", "Brand")] == [
        None, "treatment", None, "control",
    ]  # fmt: skip


@pytest.mark.parametrize(("treatment", "control"), [("TX", "us-tx"), ("us-tx", "tx"), ("TX", "TX")])
def test_one_place_in_both_arms_is_refused_however_spelled(
    peers: PeerConfig, treatment: str, control: str
) -> None:
    """Registration compares geo units by the labelling rule: before, treatment "TX" with control
    "us-tx" was accepted, and every US-TX record was labelled treatment (the first arm that
    matches) while the analyst believed it a control."""
    import grpc

    from mesh.sdk.failures import RpcFailure

    with LiftOS(peers, org_id="both-arms") as client, pytest.raises(RpcFailure) as refused:
        client.create_experiment(_experiment(treatment, control))
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert any(
        field.endswith("control_units") and "units in both arms" in text
        for field, text in refused.value.field_violations
    ), refused.value


def test_same_unit_folds_unicode_forms() -> None:
    """usual_days.same_unit (the design's and recommend's registered-test overlap) used upper():
    a name typed in another Unicode form was another place there and one place at ingest."""
    import unicodedata

    from mesh.runtime.usual_days import same_unit

    composed = "DE-Baden-Württemberg"
    decomposed = unicodedata.normalize("NFD", "baden-württemberg")
    assert composed != unicodedata.normalize("NFC", decomposed).upper()
    assert same_unit(composed, unicodedata.normalize("NFD", composed).lower())
    assert same_unit("TX", "us-tx") and not same_unit("TX", "US-CA")
