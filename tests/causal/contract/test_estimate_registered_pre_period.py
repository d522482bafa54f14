"""R26-F4: an estimate of a registered experiment with no date range reads the pre-period the
registry keeps (``pre_period_start``, as the design powered it), not one as long as the test."""

from __future__ import annotations

import grpc
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.synthetic_records import synthetic_records

# the same 8 geos x 4 campaigns x 90 days (2024-09-01 .. 2024-11-29) in real memory
from tests.causal.contract.test_estimate_from_memory import CAMPAIGNS, GEOS, mesh  # noqa: F401


def test_the_registered_pre_period_is_read(mesh) -> None:  # noqa: F811
    geos = sorted(
        {r.geo for r in synthetic_records("shop", GEOS * CAMPAIGNS, campaigns=CAMPAIGNS, geos=GEOS)}
    )
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(mesh["ingestion"].address)
    )
    for eid, pre in (("stated", common_pb.Date(year=2024, month=9, day=15)), ("unstated", None)):
        ingestion.CreateExperiment(
            ingestion_pb.CreateExperimentRequest(
                experiment=md_pb.CausalExperiment(
                    org_id="shop", experiment_id=eid, randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
                    start_date=common_pb.Date(year=2024, month=11, day=1),
                    end_date=common_pb.Date(year=2024, month=11, day=29),
                    pre_period_start=pre, treatment_units=geos[:2], control_units=geos[2:6],
                )
            )
        )  # fmt: skip
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))

    def estimate(eid: str) -> pb.EffectEstimate:
        return stub.EstimateEffect(
            pb.EstimateEffectRequest(
                org_id="shop", method=pb.ESTIMATION_METHOD_DID,
                records=pb.RecordQuery(experiment_id=eid),
                roles=pb.EffectRoles(outcome="spend", treatment="treated_post", unit="geo", time="day"),
                options=pb.EstimationOptions(refutation_simulations=3),
            )
        ).estimate  # fmt: skip

    e = estimate("stated")  # 2024-09-15 .. 2024-11-29: 76 days, 6 geos
    assert e.n == 6 * 76
    assert "records read from 2024-09-15 (the experiment's registered pre-period)" in " ".join(
        e.warnings
    )
    e = estimate("unstated")  # as long as the 29-day test: 2024-10-03 .. 2024-11-29
    assert e.n == 6 * 58
    assert "2024-10-03 (a pre-period as long as the 29-day test: none is registered)" in " ".join(
        e.warnings
    )
