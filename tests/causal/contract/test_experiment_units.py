"""R34-F8: a registered experiment unit that matches none of the org's geos ("California" where
the records say US-CA, "Bayern" for DE-BY) is refused by EstimateEffect, naming the unit, the
geos and the spelling that matches, instead of being dropped from its arm without a word."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.experiment_units import suggested_geo

# the same 8 geos (US-CA ... US-WA) x 4 campaigns x 90 days (2024-09-01 .. 2024-11-29) in real memory
from tests.causal.contract.test_estimate_from_memory import mesh  # noqa: F401


def _register(
    mesh,  # noqa: F811
    eid: str,
    treated: list[str],
    control: list[str],
    pre: common_pb.Date | None = None,
) -> None:
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(mesh["ingestion"].address)
    )
    ingestion.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            experiment=md_pb.CausalExperiment(
                org_id="shop", experiment_id=eid, randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                start_date=common_pb.Date(year=2024, month=11, day=1),
                end_date=common_pb.Date(year=2024, month=11, day=29),
                pre_period_start=pre, treatment_units=treated, control_units=control,
            )
        )
    )  # fmt: skip


def _estimate(mesh, eid: str) -> pb.EffectEstimate:  # noqa: F811
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    return stub.EstimateEffect(
        pb.EstimateEffectRequest(
            org_id="shop", method=pb.ESTIMATION_METHOD_DID,
            records=pb.RecordQuery(experiment_id=eid),
            roles=pb.EffectRoles(outcome="spend", treatment="treated_post", unit="geo", time="day"),
            options=pb.EstimationOptions(refutation_simulations=3),
        )
    ).estimate  # fmt: skip


def test_a_unit_no_geo_matches_is_refused_naming_the_spelling(mesh) -> None:  # noqa: F811
    _register(mesh, "spelled", ["CA", "US-FL", "GA"], ["IL", "NY", "OH"])
    e = _estimate(mesh, "spelled")
    assert (e.n_treated, e.n) == (3, 6 * 58)  # 3 vs 3 geos, 2024-10-03 .. 2024-11-29

    _register(mesh, "named", ["CA", "US-FL", "GA"], ["Illinois", "NY", "Ohio"])
    with pytest.raises(grpc.RpcError) as caught:
        _estimate(mesh, "named")
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    message = caught.value.details()
    assert "control unit 'Illinois' (write it as 'US-IL')" in message
    assert "control unit 'Ohio' (write it as 'US-OH')" in message
    assert "match none of the 8 geos" in message and "'US-WA'" in message
    assert "register the experiment again under a new id" in message


def test_a_unit_in_another_case_is_its_geo(mesh) -> None:  # noqa: F811
    """ "oh", "us-fl", "Ga" are US-OH, US-FL and US-GA (ISO codes and names are the same place
    in any case), as the lift test recorded from the estimate reads them: the estimate refused
    "oh" while experiment_result matched it (one rule now, experiment_units.unit_matches)."""
    _register(mesh, "cased", ["ca", "us-fl", "Ga"], ["il", "NY", "oh"])
    e = _estimate(mesh, "cased")
    assert (e.n_treated, e.n) == (3, 6 * 58)
    assert e.point_estimate == _estimate(mesh, "spelled").point_estimate


def test_every_unit_unmatched_names_them_not_the_treatment_column(mesh) -> None:  # noqa: F811
    _register(mesh, "states", ["California", "Florida"], ["Texas", "Washington"])
    with pytest.raises(grpc.RpcError) as caught:
        _estimate(mesh, "states")
    message = caught.value.details()
    assert "no unit is ever treated" not in message
    for unit, geo in (("California", "US-CA"), ("Florida", "US-FL"), ("Texas", "US-TX")):
        assert f"unit {unit!r} (write it as {geo!r})" in message


@pytest.mark.parametrize(
    ("unit", "geos", "expected"),
    [
        ("Bayern", ["DE-BE", "DE-BW", "DE-BY"], "DE-BY"),
        ("nordrhein-westfalen", ["DE-BY", "DE-NW"], "DE-NW"),
        ("by", ["DE-BY", "DE-HE"], "DE-BY"),
        ("be", ["DE-BE", "CH-BE"], None),  # Berlin or Bern: not plainly one
        ("Atlantis", ["DE-BY", "US-CA"], None),
    ],
)
def test_the_suggested_spelling(unit: str, geos: list[str], expected: str | None) -> None:
    assert suggested_geo(unit, geos) == expected
