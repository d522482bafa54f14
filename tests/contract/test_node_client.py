"""A Node.js grpc-js client loading proto/ talks to the Python server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

ROOT = Path(__file__).resolve().parents[2]


def test_node_client_calls_calendar_and_experiments(mesh_services, node_modules: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (Node.js 20 is part of the toolchain)")
    address = mesh_services["ingestion"].address
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(address))
    stub.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            experiment=md_pb.CausalExperiment(
                org_id="node-org",
                experiment_id="from-python",
                start_date=common_pb.Date(year=2024, month=10, day=1),
                end_date=common_pb.Date(year=2024, month=10, day=28),
                randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
            )
        )
    )
    out = subprocess.run(
        [node, str(ROOT / "tests" / "node" / "client.js"), address, "node-org"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["holidays"] == [[28, "Thanksgiving Day"], [29, "Black Friday"]]
    assert result["experiments"] == [
        {
            "id": "from-python",
            "unit": "RANDOMIZATION_UNIT_GEO",
            "start": {"year": 2024, "month": 10, "day": 1},
        }
    ]
    assert result["badRequest"]["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "end_date" in result["badRequest"]["details"]
