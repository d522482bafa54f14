"""DesignExperiment near the end of the supported dates (audit R7-F3): a test that would run
past 2200-12-31 is refused up front naming start_date and the duration, whether or not the
design is saved; one ending on 2200-12-31 is designed."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from tests.support import error_details

from .test_design_and_forecast import mesh  # noqa: F401 - the module's real mesh fixture

LAST = common_pb.Date(year=2200, month=12, day=31)


def _design(mesh, **kwargs: object) -> pb.DesignExperimentResponse:  # noqa: F811
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    request = pb.DesignExperimentRequest(org_id="shop", channel="meta", seed=7, **kwargs)
    return stub.DesignExperiment(request, timeout=120)


@pytest.mark.parametrize("save", [False, True])
def test_a_test_ending_after_2200_is_refused_naming_start_date(mesh, save) -> None:  # noqa: F811
    with pytest.raises(grpc.RpcError) as err:
        _design(mesh, start_date=LAST, duration_days=[14], save=save, experiment_id=f"late-{save}")
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    _, fields = error_details(err.value)
    assert fields == ["start_date", "duration_days[0]"]
    message = err.value.details() or ""
    assert "2201-01-13" in message and "start by 2200-12-18" in message
    registry = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))
    with pytest.raises(grpc.RpcError) as missing:  # nothing registered
        registry.GetExperiment(
            ingestion_pb.GetExperimentRequest(org_id="shop", experiment_id=f"late-{save}")
        )
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND


def test_without_durations_the_longest_default_must_fit(mesh) -> None:  # noqa: F811
    with pytest.raises(grpc.RpcError) as err:
        _design(mesh, start_date=common_pb.Date(year=2200, month=12, day=1))
    _, fields = error_details(err.value)
    assert fields == ["start_date"]
    assert "56-day test (the longest default duration)" in (err.value.details() or "")


def test_a_test_ending_on_the_last_supported_day_is_designed(mesh) -> None:  # noqa: F811
    reply = _design(
        mesh,
        start_date=common_pb.Date(year=2200, month=12, day=18),
        duration_days=[14],
        save=True,
        experiment_id="last-day",
    )
    assert reply.saved
    assert reply.experiment.end_date == LAST


@pytest.mark.parametrize(
    "start",
    [common_pb.Date(year=2024, month=5, day=29), common_pb.Date(year=2024, month=2, day=29)],
)
def test_a_start_inside_or_before_the_history_is_refused_naming_the_first_valid_day(
    mesh,  # noqa: F811
    start: common_pb.Date,
) -> None:
    # R21-F7: a window on days the history already holds was powered and registered silently.
    # The history ends 2024-05-29 (the default start is the day after).
    eid = f"past-{start.month}"
    with pytest.raises(grpc.RpcError) as err:
        _design(mesh, start_date=start, duration_days=[14], save=True, experiment_id=eid)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    _, fields = error_details(err.value)
    assert fields == ["start_date"]
    message = err.value.details() or ""
    assert "history's last day 2024-05-29" in message and "from 2024-05-30" in message
    registry = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))
    with pytest.raises(grpc.RpcError) as missing:
        registry.GetExperiment(ingestion_pb.GetExperimentRequest(org_id="shop", experiment_id=eid))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    first = _design(mesh, start_date=common_pb.Date(year=2024, month=5, day=30), duration_days=[14])
    assert first.experiment.start_date == common_pb.Date(year=2024, month=5, day=30)
