"""One holiday rule for every country (audit R21 F3, F4, F8, F11), over a real mesh: the
calendar GetCalendar lists (and every record carries), the attribution model's national design
and the forecast's holiday table agree on Black Friday–Cyber Monday and the gift season in every
country; a record's geo picks its subdivision's holidays (England's Easter Monday); the weekend
is the country's; a calendar past the last year whose holidays are known is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from causal_svc.attribution.calendar import national_design
from mesh.cli import commands as cli
from surfacing_svc.forecast import _holidays
from tests.support import error_details

RETAIL = {"Black Friday", "Black Friday Saturday", "Black Friday Sunday", "Cyber Monday"}


@pytest.fixture(scope="module")
def stub(mesh_services):
    return ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(mesh_services["ingestion"].address)
    )


def _date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def _calendar(stub, country: str, start: str, end: str, **kw: str):
    return stub.GetCalendar(
        ingestion_pb.GetCalendarRequest(
            country=country,
            start_date=_date(dt.date.fromisoformat(start)),
            end_date=_date(dt.date.fromisoformat(end)),
            **kw,
        )
    ).days


@pytest.mark.parametrize(
    ("country", "retail", "gifting"),
    [("US", True, True), ("GB", True, True), ("AU", True, True), ("DE", True, True),
     ("JP", False, False), ("SA", False, False)],
)  # fmt: skip
def test_retail_days_and_gift_season_are_one_rule(
    stub, country: str, retail: bool, gifting: bool
) -> None:
    """Before: GetCalendar listed the four retail days in every country (Japan's too) while the
    model and the forecast controlled them in the US only; the model added the gift season
    everywhere, the forecast in the US only."""
    days = _calendar(stub, country, "2024-11-20", "2024-12-31")
    listed = {(d.date.month, d.date.day) for d in days if d.holiday_name in RETAIL}
    dates = np.arange(np.datetime64("2024-11-20"), np.datetime64("2025-01-01"))
    _, names = national_design(dates, None, country)
    modelled = {
        (int(n.split(":")[1][5:7]), int(n.split(":")[1][8:10]))
        for n in names
        if n.startswith("holiday:") and n.split(":", 2)[2] in RETAIL
    }
    table = _holidays(country, (2024,))
    forecast = {(d.month, d.day) for d, name in table.items() if name in RETAIL}
    expected = {(11, 29), (11, 30), (12, 1), (12, 2)} if retail else set()
    assert listed == modelled == forecast == expected, country
    assert ("december_gifting_weeks" in names) is gifting
    # every public holiday the calendar lists in the window is one the model controls
    public = {(d.date.month, d.date.day) for d in days if d.is_holiday}
    assert public == {
        (int(n.split(":")[1][5:7]), int(n.split(":")[1][8:10]))
        for n in names
        if n.startswith("holiday:")
    }


def test_the_weekend_is_the_countrys(stub) -> None:
    """Before: Saturday–Sunday everywhere; Saudi Arabia and Israel rest Friday–Saturday."""
    # 2024-03-07 Thursday … 2024-03-10 Sunday
    for country, weekend in (("SA", [False, True, True, False]), ("IL", [False, True, True, False]),
                             ("US", [False, False, True, True]), ("GB", [False, False, True, True])):  # fmt: skip
        days = _calendar(stub, country, "2024-03-07", "2024-03-10")
        assert [d.is_weekend for d in days] == weekend, country


def test_a_calendar_past_the_known_holidays_is_refused(stub) -> None:
    """Before: 2150's Christmas was an ordinary working day, without a word."""
    assert _calendar(stub, "GB", "2100-12-25", "2100-12-25")[0].holiday_name == "Christmas Day"
    with pytest.raises(grpc.RpcError) as info:
        _calendar(stub, "GB", "2150-12-24", "2150-12-26")
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "end_date" in error_details(info.value)[1]
    assert "2100-12-31" in (info.value.details() or ""), info.value.details()


def test_records_carry_their_subdivisions_holidays(
    mesh_services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Before: records used the UK-wide list, which has no Easter Monday nor August bank
    holiday (England and Wales'), and not Scotland's 5 August either."""
    orders = tmp_path / "gb_orders.csv"
    rows = ["date,region,orders,revenue"]
    for day in ("2024-03-28", "2024-03-29", "2024-04-01", "2024-08-05", "2024-08-26"):
        rows += [f"{day},GB-ENG,10,500", f"{day},GB-SCT,5,250"]
    orders.write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh_services["ingestion"].address)
    argv = ["ingest", "--org", "gbsubdiv", "--source", "generic", "--account-id", "gb-orders",
            "--timezone", "Europe/London", "--currency", "GBP", "--country", "GB",
            "--mapping", "date=date,geo=region,conversions=orders,revenue=revenue",
            "--pulled-at", "2024-09-01T00:00:00Z", "--quiet", str(orders)]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr()
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh_services["memory"].address))
    records = [
        r for batch in memory.Scan(memory_pb.ScanRequest(org_id="gbsubdiv")) for r in batch.records
    ]
    got = {
        (
            r.geo,
            f"{r.local_date.month:02d}-{r.local_date.day:02d}",
        ): r.calendar_features.holiday_name
        for r in records
    }
    assert got == {
        ("GB-ENG", "03-28"): "", ("GB-SCT", "03-28"): "",
        ("GB-ENG", "03-29"): "Good Friday", ("GB-SCT", "03-29"): "Good Friday",
        ("GB-ENG", "04-01"): "Easter Monday", ("GB-SCT", "04-01"): "",
        ("GB-ENG", "08-05"): "", ("GB-SCT", "08-05"): "Summer Bank Holiday",
        ("GB-ENG", "08-26"): "Late Summer Bank Holiday", ("GB-SCT", "08-26"): "",
    }  # fmt: skip
    assert {r.calendar_features.country_code for r in records} == {"GB"}


@pytest.mark.parametrize(("country", "gifting"), [("US", True), ("GB", True), ("JP", False)])
def test_the_gift_season_is_one_rule(country: str, gifting: bool) -> None:
    """Before: the confounder detector flagged 1-21 December in every country (Japan too),
    the forecast only in the US (a GB December forecast had no season)."""
    from ingestion_svc.calendar import calendar_columns
    from ingestion_svc.confounders import detect
    from surfacing_svc.seasons import resolve_seasons

    dates = np.arange(np.datetime64("2023-10-01"), np.datetime64("2023-12-31"))
    days = dates.astype(np.int64)
    n = days.size
    cube = np.ones((n, 29, 3))
    found = detect("meta", calendar_columns(country, days), country, days, cube,
                   np.ones(n), pd.Series(["Prospecting"] * n), [])  # fmt: skip
    assert any(d.name == "retail_peak_season" for d in found) is gifting
    seasons = resolve_seasons(dates, n - 10, country)
    assert ("Christmas shopping season" in seasons.names) is gifting
    _, names = national_design(dates, None, country)
    assert ("december_gifting_weeks" in names) is gifting
