"""GetCalendar never answers past the server's message limit (s18 R32 F3: 45 macro factors
over its 3,660-day maximum are 6.8 MB). Each macro factor adds an EconomicIndicator to every
day it has a value, so a long range of many factors passes any limit; such a reply is
refused RESOURCE_EXHAUSTED REPLY_TOO_LARGE naming its size, the limit, the days that fit and
the calendar without org_id. Before, gRPC refused to send it and the caller saw the
transport's bare "Sent message larger than max". The limit is lowered so the org stays
small: a real ingestion server, restarted on the same data with each limit."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.app import build
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.inprocess import BackgroundLoop, RunningService
from mesh.runtime.reply_limit import reply_budget
from mesh.runtime.status import decode_status

ORG = "macro-org"
FACTORS, DAYS = 8, 366
START = dt.date(2024, 1, 1)
BIG = 64 << 20


def _date(day: dt.date) -> common_pb.Date:
    return common_pb.Date(year=day.year, month=day.month, day=day.day)


def _request(days: int, org_id: str = ORG) -> pb.GetCalendarRequest:
    end = START + dt.timedelta(days=days - 1)
    return pb.GetCalendarRequest(country="US", start_date=_date(START), end_date=_date(end),
                                 org_id=org_id)  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("calendar-reply-size")


@pytest.fixture(scope="module")
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop()
    yield background
    background.close()


def _serve(loop: BackgroundLoop, data: Path, limit: int) -> RunningService:
    config = ServerConfig(service="ingestion", host="127.0.0.1", port=0, data_dir=data,
                          peers=PeerConfig.from_env(), max_message_bytes=limit)  # fmt: skip
    return RunningService(loop, "ingestion", build, config)


def _calendar(address: str, request: pb.GetCalendarRequest) -> pb.GetCalendarResponse:
    # the client reads anything: only the server's own limit is under test
    options = [("grpc.max_receive_message_length", BIG)]
    with grpc.insecure_channel(address, options=options) as channel:
        return ingestion_grpc.IngestionServiceStub(channel).GetCalendar(request, timeout=60)


@pytest.fixture(scope="module")
def sizes(loop: BackgroundLoop, data: Path) -> tuple[int, int]:
    """(bytes without the org, bytes with its macro factors) of a year under the default
    limit."""
    server = _serve(loop, data, BIG)
    try:
        values = [pb.DatedValue(date=_date(START + dt.timedelta(days=i)), value=100.0 + i / 8)
                  for i in range(DAYS)]  # fmt: skip
        with grpc.insecure_channel(server.address) as channel:
            stub = ingestion_grpc.IngestionServiceStub(channel)
            for k in range(FACTORS):
                series = pb.ExternalFactorSeries(
                    name=f"macro_index_{k:02d}", type=md_pb.EXTERNAL_FACTOR_TYPE_MACRO,
                    source="fred", unit="index", values=values,
                )  # fmt: skip
                stub.RegisterExternalFactor(
                    pb.RegisterExternalFactorRequest(org_id=ORG, series=series), timeout=60
                )
        plain = _calendar(server.address, _request(DAYS, org_id=""))
        full = _calendar(server.address, _request(DAYS))
    finally:
        server.stop()
    assert all(len(d.economic_indicators) == FACTORS for d in full.days)
    return plain.ByteSize(), full.ByteSize()


def test_a_calendar_past_the_limit_is_refused_naming_size_limit_range_and_org_id(
    loop: BackgroundLoop, data: Path, sizes: tuple[int, int]
) -> None:
    plain, full = sizes
    limit = (plain + full) // 2
    assert plain < reply_budget(limit) < full
    server = _serve(loop, data, limit)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _calendar(server.address, _request(DAYS))
        status = decode_status(caught.value)
        assert status.carried, f"a transport failure, not ingestion's refusal: {status.message}"
        assert status.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert status.reason == "REPLY_TOO_LARGE" and status.retry_after_s is None
        message = status.message
        assert f"({DAYS} days with {FACTORS} macro factors of org {ORG!r}" in message, message
        assert f"over this server's {limit:,} bytes message limit" in message, message
        assert "or leave org_id unset (the calendar alone is ~" in message, message
        found = re.search(rf"its first (\d+) of {DAYS} days fit, to (\S+)\)", message)
        assert found, message
        fit = int(found.group(1))
        assert found.group(2) == str(START + dt.timedelta(days=fit - 1))
        assert 1 <= fit < DAYS
        # the range it names fits, a day more does not; the calendar without the org fits
        narrow = _calendar(server.address, _request(fit))
        assert len(narrow.days) == fit and narrow.ByteSize() <= limit
        with pytest.raises(grpc.RpcError):
            _calendar(server.address, _request(fit + 1))
        assert all(len(d.economic_indicators) == FACTORS for d in narrow.days)
        assert len(_calendar(server.address, _request(DAYS, org_id="")).days) == DAYS
    finally:
        server.stop()
