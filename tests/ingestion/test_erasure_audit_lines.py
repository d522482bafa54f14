"""The erasure RPCs other than DeleteRecords leave an audit line too (s19 V2-F7): causal's
DeleteAnalyses and ingestion's DeleteExperiments / DeleteExternalFactors logged nothing but
the interceptor's generic line, so an erasure split over four RPCs kept a record of one. Over
real memory, ingestion and causal servers checking API keys: each call (dry run and delete)
logs on ``liftos.audit`` the org, what was asked, what was deleted and not found, the caller's
key subject and the request id."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import frame_to_table
from tests.causal.contract.test_record_experiment_result import _experiment

ORG = "acme"
ADMIN = (("authorization", "Bearer k-admin"),)


def _audit(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "liftos.audit"]


def _estimate(stub: causal_grpc.CausalServiceStub) -> str:
    rng = np.random.default_rng(1)
    treated = rng.permutation(np.repeat([0, 1], 100))
    frame = pd.DataFrame({"promo": treated, "revenue": 100 + 5 * treated + rng.normal(0, 5, 200)})
    reply = stub.EstimateEffect(
        causal_pb.EstimateEffectRequest(
            org_id=ORG, method=causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS,
            table=frame_to_table(frame),
            roles=causal_pb.EffectRoles(outcome="revenue", treatment="promo"),
            options=causal_pb.EstimationOptions(refutation_simulations=5, seed=1),
            randomized=True,
        ),
        timeout=60, metadata=ADMIN,
    )  # fmt: skip
    return reply.analysis_id


def test_every_erasure_rpc_logs_what_it_removed_and_whose_key_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, world: sim.SimResult
) -> None:
    keys = AuthConfig.parse(
        "k-ing:service=ingestion,"
        f"k-admin:{ORG}:public+records.delete+records.write+experiments.write"
    )
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path, auth=keys, api_keys={"ingestion": "k-ing"}) as services:  # type: ignore[arg-type]
        ingestion = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        ingestion.CreateExperiment(
            ingestion_pb.CreateExperimentRequest(
                allow_overlap=True, experiment=_experiment(world.experiments[0], "e1", org=ORG)
            ),
            timeout=30, metadata=ADMIN,
        )  # fmt: skip
        values = [
            ingestion_pb.DatedValue(date=common_pb.Date(year=2024, month=9, day=d), value=d)
            for d in range(1, 29)
        ]
        series = ingestion_pb.ExternalFactorSeries(
            name="cci", type=md_pb.EXTERNAL_FACTOR_TYPE_MACRO, values=values
        )
        ingestion.RegisterExternalFactor(
            ingestion_pb.RegisterExternalFactorRequest(org_id=ORG, series=series),
            timeout=30, metadata=ADMIN,
        )  # fmt: skip
        analysis = _estimate(causal)
        with caplog.at_level(logging.INFO, logger="liftos.audit"):
            causal.DeleteAnalyses(
                causal_pb.DeleteAnalysesRequest(org_id=ORG, all=True, dry_run=True),
                timeout=60, metadata=ADMIN,
            )  # fmt: skip
            causal.DeleteAnalyses(
                causal_pb.DeleteAnalysesRequest(org_id=ORG, analysis_ids=[analysis, "an-typo"]),
                timeout=60, metadata=ADMIN,
            )  # fmt: skip
            ingestion.DeleteExperiments(
                ingestion_pb.DeleteExperimentsRequest(org_id=ORG, experiment_ids=["e1", "e9"]),
                timeout=30, metadata=ADMIN,
            )  # fmt: skip
            ingestion.DeleteExternalFactors(
                ingestion_pb.DeleteExternalFactorsRequest(org_id=ORG, all=True),
                timeout=30, metadata=ADMIN,
            )  # fmt: skip
    dry, analyses, experiments, factors = _audit(caplog)
    assert dry.startswith(f"DeleteAnalyses org='{ORG}' filter: every one of the org's analyses")
    assert f"dry run, would delete 1 analyses ['{analysis}']" in dry
    assert analyses.startswith(f"DeleteAnalyses org='{ORG}' filter: ids ['{analysis}', 'an-typo']")
    assert f"; deleted 1 analyses ['{analysis}'] (with their fitted models); not found 1 " \
        "['an-typo']" in analyses  # fmt: skip
    assert experiments.startswith(f"DeleteExperiments org='{ORG}' filter: ids ['e1', 'e9']")
    assert "; deleted 1 experiments ['e1']; not found 1 ['e9']" in experiments
    assert factors.startswith(f"DeleteExternalFactors org='{ORG}' filter: every one of the org's")
    assert "; deleted 1 factors ['cci'] (" in factors
    for line in (dry, analyses, experiments, factors):
        # the key's subject (its org) and the request id, as DeleteRecords' line has them
        assert f"caller={ORG} rid=" in line and not line.endswith("rid="), line
