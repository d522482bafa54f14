"""GetCalendar through the SDK and raw stubs on a real server."""

from __future__ import annotations

import datetime as dt

import grpc
import numpy as np
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution.calendar import national_design
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS


@pytest.fixture(scope="module")
def stub(mesh_services):
    return ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(mesh_services["ingestion"].address)
    )


def _request(country: str, start: tuple[int, int, int], end: tuple[int, int, int], **kw: str):
    return ingestion_pb.GetCalendarRequest(
        country=country,
        start_date=common_pb.Date(year=start[0], month=start[1], day=start[2]),
        end_date=common_pb.Date(year=end[0], month=end[1], day=end[2]),
        **kw,
    )


def test_thanksgiving_and_retail_events(stub) -> None:
    days = stub.GetCalendar(_request("US", (2024, 11, 1), (2024, 11, 30))).days
    assert len(days) == 30
    by_day = {d.date.day: d for d in days}
    assert by_day[28].is_holiday and by_day[28].holiday_name == "Thanksgiving Day"
    assert by_day[29].holiday_name == "Black Friday"
    assert by_day[11].holiday_name == "Veterans Day"
    assert not by_day[27].is_holiday
    assert (
        by_day[27].days_to_next_holiday == 1 and by_day[27].next_holiday_name == "Thanksgiving Day"
    )
    assert by_day[30].day_of_week == md_pb.DAY_OF_WEEK_SATURDAY and by_day[30].is_weekend
    assert by_day[30].is_month_end and by_day[1].is_month_start
    assert {d.season for d in days} == {md_pb.SEASON_AUTUMN}


def test_iso_week_year_boundary_and_hemisphere(stub) -> None:
    days = stub.GetCalendar(_request("AU", (2024, 12, 29), (2025, 1, 2))).days
    dec30 = next(d for d in days if d.date.day == 30)
    assert (dec30.iso_year, dec30.week, dec30.year) == (2025, 1, 2024)
    assert all(d.season == md_pb.SEASON_SUMMER for d in days)  # southern hemisphere
    jan1 = next(d for d in days if d.date.month == 1 and d.date.day == 1)
    assert jan1.is_holiday and jan1.quarter == 1


def test_subdivision_holidays(stub) -> None:
    # Cesar Chavez Day is a California state holiday, not a federal one.
    ca = stub.GetCalendar(_request("US", (2024, 3, 31), (2024, 3, 31), subdivision="CA")).days
    us = stub.GetCalendar(_request("US", (2024, 3, 31), (2024, 3, 31))).days
    assert ca[0].is_holiday and not us[0].is_holiday


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_request("XX", (2024, 11, 1), (2024, 11, 2)), "country"),
        (_request("", (2024, 11, 1), (2024, 11, 2)), "country"),
        (_request("US", (2024, 11, 5), (2024, 11, 2)), "end_date"),
        (_request("US", (2024, 2, 30), (2024, 3, 2)), "start_date"),
        (_request("US", (2000, 1, 1), (2024, 1, 1)), "end_date"),
    ],
)
def test_bad_calendar_requests(stub, request_, field: str) -> None:
    from tests.support import error_details

    with pytest.raises(grpc.RpcError) as info:
        stub.GetCalendar(request_)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_details(info.value)[1]


def test_sdk_calendar_frame(mesh_services) -> None:
    peers = PeerConfig.from_env().with_overrides(ingestion=mesh_services["ingestion"].address)
    with LiftOS(peers) as client:
        frame = client.calendar("GB", dt.date(2024, 12, 24), dt.date(2024, 12, 27))
    assert list(frame["is_holiday"]) == [False, True, True, False]
    assert frame.loc[1, "holiday_name"] == "Christmas Day"
    assert frame["season"].eq("winter").all()


def test_the_calendar_lists_every_retail_day_attribution_controls(
    stub, mesh_services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GetCalendar listed Black Friday and Cyber Monday but not the Saturday and Sunday
    between them, which the attribution model controls as retail events of their own: the
    calendar a user reads is now the one the model adjusts for, day for day."""
    days = stub.GetCalendar(_request("US", (2023, 1, 1), (2024, 12, 31))).days
    listed = {
        (dt.date(d.date.year, d.date.month, d.date.day), d.holiday_name)
        for d in days
        if d.is_holiday
    }
    _, names = national_design(np.arange(np.datetime64("2023-01-01"), np.datetime64("2025-01-01")))
    controlled = {
        (dt.date.fromisoformat(n.split(":")[1]), n.split(":", 2)[2])
        for n in names
        if n.startswith("holiday:")
    }
    assert listed == controlled
    for day, name in (("2024-11-29", "Black Friday"), ("2024-11-30", "Black Friday Saturday"),
                      ("2024-12-01", "Black Friday Sunday"), ("2024-12-02", "Cyber Monday")):  # fmt: skip
        assert (dt.date.fromisoformat(day), name) in listed
    # `liftos calendar` prints them.
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh_services["ingestion"].address)
    assert cli.main(["calendar", "--country", "US", "--start", "2024-11-29",
                     "--end", "2024-12-02"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["2024-11-29", "2024-11-30", "2024-12-01", "2024-12-02"]
    assert "Black Friday Saturday" in out and "Black Friday Sunday" in out, out
