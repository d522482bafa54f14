"""R26-F4: a saved design registers the pre-period it was powered on (``pre_period_start``), so
`liftos estimate --experiment` reads that pre-period instead of one as long as the test."""

from __future__ import annotations

import datetime as dt

import grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from .test_design_and_forecast import mesh  # noqa: F401 - the module's real mesh fixture


def test_a_saved_design_registers_its_pre_period(mesh) -> None:  # noqa: F811
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    reply = stub.DesignExperiment(
        pb.DesignExperimentRequest(
            org_id="shop", channel="meta", seed=7, duration_days=[14], save=True,
            experiment_id="with-pre", start_date=common_pb.Date(year=2024, month=6, day=10),
        ),
        timeout=120,
    )  # fmt: skip
    registry = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))
    stored = registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id="shop", experiment_id="with-pre")
    ).experiment
    first = dt.date(2024, 6, 10) - dt.timedelta(days=reply.pre_period_days)
    assert stored.pre_period_start == common_pb.Date(
        year=first.year, month=first.month, day=first.day
    )
