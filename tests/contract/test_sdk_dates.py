"""The SDK takes a date argument as a ``datetime.date`` or an ISO string (R5-F10: a notebook's
``analyze(start="2024-09-15")`` raised ``AttributeError: 'str' object has no attribute
'year'``); anything else is the SDK's InvalidInput naming the argument, before any call."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pytest

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.inprocess import running_services
from mesh.sdk.causal import Records
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure


def test_records_take_iso_strings_dates_and_datetimes() -> None:
    for start in ("2024-09-15", dt.date(2024, 9, 15), dt.datetime(2024, 9, 15, 23, 30)):
        query = Records(start=start, end="2024-12-08").to_proto()  # type: ignore[arg-type]
        assert (query.date_range.start_date.year, query.date_range.start_date.month,
                query.date_range.start_date.day) == (2024, 9, 15)  # fmt: skip
        assert query.date_range.end_date.day == 8
    with pytest.raises(InvalidInput) as info:
        Records(end="2024-13-01").to_proto()  # type: ignore[arg-type]
    assert info.value.violations[0].field == "end" and "'2024-13-01' is not a date" in str(
        info.value
    )


def test_analyze_with_iso_strings_reaches_the_service(tmp_path: Path) -> None:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path) as services:  # type: ignore[arg-type]
        peers = PeerConfig("", "", "", "127.0.0.1:1", "127.0.0.1:1").with_overrides(
            **{name: s.address for name, s in services.items()}
        )
        with LiftOS(peers, org_id="empty_org") as client:
            # An org without records: the service's own answer, so the dates went through.
            with pytest.raises(RpcFailure) as failed:
                client.analyze(start="2024-09-15", end="2024-12-08")
            assert failed.value.code is not grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(InvalidInput) as info:
                client.analyze(start=20240915)  # type: ignore[arg-type]
            assert info.value.violations[0].field == "start"
            with pytest.raises(InvalidInput) as info:
                client.counterfactual("an-x", end="next week")
            assert info.value.violations[0].field == "end"
