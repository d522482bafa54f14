"""GetExperiment and RecordExperimentResult bound experiment_id (R14-F7): an id over the
length CreateExperiment stores ids under, or not of its shape, is INVALID_ARGUMENT naming
experiment_id and quoting at most a short prefix — never NOT_FOUND echoing the id (a real
ingestion server). (In tests/ingestion/test_stream_* for the session's file ownership.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.app import build as ingestion_build
from mesh.runtime.inprocess import running_services
from tests.ingestion.conftest import rich_error

LONG = "x" * 5000 + "\x1b[31m" + "y"  # the auditor's 5,006 characters with an ESC


@pytest.fixture()
def stub(tmp_path: Path) -> Iterator[ingestion_grpc.IngestionServiceStub]:
    with running_services({"ingestion": ingestion_build}, tmp_path) as services:
        yield ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )


def _calls(
    stub: ingestion_grpc.IngestionServiceStub, experiment_id: str
) -> list[Callable[[], object]]:
    result = md_pb.ExperimentResult(channel="meta", lift_absolute=1.0, lift_std_error=0.5)
    return [
        lambda: stub.GetExperiment(
            ingestion_pb.GetExperimentRequest(org_id="acme", experiment_id=experiment_id)
        ),
        lambda: stub.RecordExperimentResult(
            ingestion_pb.RecordExperimentResultRequest(
                org_id="acme", experiment_id=experiment_id, result=result
            )
        ),
    ]


@pytest.mark.parametrize(
    ("experiment_id", "said"),
    [
        (LONG, "experiment_id is 5,006 characters; at most 63 are allowed (starts 'xxx"),
        ("a" * 64, "experiment_id is 64 characters; at most 63"),
        ("geo\x1bholdout", "experiment_id 'geo\\x1bholdout' is not an experiment id: 1-63"),
        ("-lead", "is not an experiment id"),
    ],
)
def test_an_experiment_id_no_experiment_can_have_is_invalid_argument(
    stub: ingestion_grpc.IngestionServiceStub, experiment_id: str, said: str
) -> None:
    for call in _calls(stub, experiment_id):
        with pytest.raises(grpc.RpcError) as err:
            call()
        code, reason, violations, _ = rich_error(err.value)
        details = err.value.details() or ""  # type: ignore[attr-defined]
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), details
        assert [field for field, _ in violations] == ["experiment_id"]
        assert said in details
        assert len(details) < 200 and "\x1b" not in details


def test_a_well_formed_unknown_id_is_still_not_found(
    stub: ingestion_grpc.IngestionServiceStub,
) -> None:
    for call in _calls(stub, "a" * 63):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
