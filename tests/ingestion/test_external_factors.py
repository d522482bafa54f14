"""External-factor registry: storage, validation, the join onto rows, and its RPCs."""

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
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.errors import InvalidExternalFactor
from ingestion_svc.external_factors import FactorRegistry, FactorSeries, join_factors
from mesh.sdk.client import LiftOS
from tests.ingestion.conftest import peers_of, rich_error

D0 = dt.date(2024, 9, 1)


def _values(n: int, f=lambda i: float(i)) -> tuple[tuple[dt.date, float], ...]:  # type: ignore[no-untyped-def]
    return tuple((D0 + dt.timedelta(days=i), f(i)) for i in range(n))


def _day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def test_register_replace_list_and_generation(tmp_path: Path) -> None:
    reg = FactorRegistry(tmp_path / "f.sqlite")
    assert reg.generation("acme") == 0
    assert (
        reg.register(
            "acme", FactorSeries("cci", "macro", "conference board", "index", "", _values(30))
        )
        == 30
    )
    assert (
        reg.register(
            "acme", FactorSeries("cci", "macro", "cb", "index", "", _values(10, lambda i: 5.0))
        )
        == 10
    )
    assert reg.generation("acme") == 2
    (series,) = reg.list("acme", include_values=True)
    assert series.source == "cb" and len(series.values) == 10  # replaced, not appended
    assert reg.list("other") == []
    table = reg.table("acme", _day(D0), _day(D0) + 100)
    assert len(table.frame) == 10 and table.frame["std"].iloc[0] == 0.0
    reg.close()


def test_validation_names_every_bad_field(tmp_path: Path) -> None:
    reg = FactorRegistry(tmp_path / "f.sqlite")
    bad = FactorSeries("Bad Name", "", values=((D0, 1.0), (D0, float("nan"))))
    with pytest.raises(InvalidExternalFactor) as err:
        reg.register("acme", bad)
    fields = [v.field for v in err.value.violations]
    assert fields == [
        "series.name",
        "series.type",
        "series.values[1].value",
        "series.values[1].date",
    ]
    assert reg.generation("acme") == 0 and reg.list("acme") == []
    reg.close()


def test_join_prefers_the_rows_geo_over_the_all_geo_series(tmp_path: Path) -> None:
    reg = FactorRegistry(tmp_path / "f.sqlite")
    reg.register("acme", FactorSeries("demand", "demand", geo="", values=_values(5, lambda i: 1.0)))
    reg.register(
        "acme", FactorSeries("demand", "demand", geo="US-CA", values=_values(5, lambda i: 2.0))
    )
    reg.register(
        "acme", FactorSeries("demand", "demand", geo="TX", values=_values(5, lambda i: 3.0))
    )
    table = reg.table("acme", _day(D0), _day(D0) + 10)
    days = np.array([_day(D0), _day(D0), _day(D0), _day(D0) + 9])
    (joined,) = join_factors(
        table,
        days,
        pd.Series(["US-CA", "US-TX", "US-NY", "US-CA"]),
        pd.Series(["CA", "TX", "NY", "CA"]),
    )
    assert joined.value[:3].tolist() == [2.0, 3.0, 1.0] and np.isnan(joined.value[3])
    reg.close()


def _series_proto(
    name: str, kind: int, values: list[tuple[dt.date, float]]
) -> ingestion_pb.ExternalFactorSeries:
    return ingestion_pb.ExternalFactorSeries(
        name=name,
        type=kind,
        values=[
            ingestion_pb.DatedValue(
                date=common_pb.Date(year=d.year, month=d.month, day=d.day), value=v
            )
            for d, v in values
        ],
    )


def test_rpcs_round_trip_and_fill_the_calendar(services) -> None:  # type: ignore[no-untyped-def]
    with LiftOS(peers_of(services), org_id="acme") as client:
        days = {dt.date(2024, 11, 20) + dt.timedelta(days=i): float(i) for i in range(10)}
        assert (
            client.register_external_factor("cci", "macro", days, source="cb", unit="index") == 10
        )
        promo = {d: (1.0 if d == dt.date(2024, 11, 29) else 0.0) for d in days}
        client.register_external_factor("bf_sale", "promotion", promo)
        listed = client.list_external_factors(include_values=True)
        assert [s.name for s in listed] == ["bf_sale", "cci"] and len(listed[1].values) == 10
        stub = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        cal = stub.GetCalendar(
            ingestion_pb.GetCalendarRequest(
                country="US",
                start_date=common_pb.Date(year=2024, month=11, day=28),
                end_date=common_pb.Date(year=2024, month=11, day=30),
                org_id="acme",
            )
        ).days
        assert [[e.value for e in d.economic_indicators] for d in cal] == [[8.0], [9.0], []]
        assert (
            cal[0].economic_indicators[0].name == "cci"
            and cal[0].economic_indicators[0].unit == "index"
        )
        assert [d.market_conditions.promotion_active for d in cal] == [False, True, False]
        assert cal[1].market_conditions.promotion_name == "bf_sale"
        with pytest.raises(grpc.RpcError) as err:
            stub.RegisterExternalFactor(
                ingestion_pb.RegisterExternalFactorRequest(
                    org_id="acme", series=_series_proto("Bad!", 0, [(dt.date(2024, 2, 1), 1.0)])
                )
            )
        code, reason, fields, _ = rich_error(err.value)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and reason == "INVALID_EXTERNAL_FACTOR"
        assert [f for f, _ in fields] == ["series.name", "series.type"]


def _list(stub, **fields) -> ingestion_pb.ListExternalFactorsResponse:  # type: ignore[no-untyped-def]
    return stub.ListExternalFactors(ingestion_pb.ListExternalFactorsRequest(**fields), timeout=30)


def test_list_is_paged_by_name_then_geo(services) -> None:  # type: ignore[no-untyped-def]
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))
    expected = []
    for i in range(7):
        for geo in ("", "US-CA") if i % 3 == 0 else ("",):
            values = [(D0 + dt.timedelta(days=d), float(i + d)) for d in range(3)]
            series = _series_proto(f"f{i}", md_pb.EXTERNAL_FACTOR_TYPE_MACRO, values)
            series.geo = geo
            stub.RegisterExternalFactor(
                ingestion_pb.RegisterExternalFactorRequest(org_id="acme", series=series)
            )
            expected.append((f"f{i}", geo))
    whole = _list(stub, org_id="acme")
    assert [(s.name, s.geo) for s in whole.series] == expected and whole.next_page_token == ""
    for include_values in (False, True):
        pages, token = [], ""
        while True:
            page = _list(
                stub, org_id="acme", include_values=include_values, page_size=4, page_token=token
            )
            pages.append([(s.name, s.geo) for s in page.series])
            assert all(len(s.values) == (3 if include_values else 0) for s in page.series)
            token = page.next_page_token
            if not token:
                break
        assert [len(p) for p in pages] == [4, 4, 2]
        assert [key for p in pages for key in p] == expected
    with_values = _list(stub, org_id="acme", include_values=True, page_size=2)
    assert [v.value for v in with_values.series[1].values] == [0.0, 1.0, 2.0]  # f0 US-CA
    # the SDK follows the tokens
    with LiftOS(peers_of(services), org_id="acme") as client:
        assert [(s.name, s.geo) for s in client.list_external_factors()] == expected


def test_list_refuses_a_foreign_token_and_a_bad_page_size(services) -> None:  # type: ignore[no-untyped-def]
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))
    for org in ("acme", "rival"):
        for name in ("a", "b"):
            stub.RegisterExternalFactor(
                ingestion_pb.RegisterExternalFactorRequest(
                    org_id=org,
                    series=_series_proto(name, md_pb.EXTERNAL_FACTOR_TYPE_DEMAND, [(D0, 1.0)]),
                )
            )
    token = _list(stub, org_id="acme", page_size=1).next_page_token
    assert token and [s.name for s in _list(stub, org_id="acme", page_token=token).series] == ["b"]
    for fields, field in (
        ({"org_id": "rival", "page_token": token}, "page_token"),  # another org's token
        ({"org_id": "acme", "page_token": token, "include_values": True}, "page_token"),
        ({"org_id": "acme", "page_token": token[:-3]}, "page_token"),  # tampered
        ({"org_id": "acme", "page_token": "t" * 5000}, "page_token"),
        ({"org_id": "acme", "page_size": -1}, "page_size"),
    ):
        with pytest.raises(grpc.RpcError) as err:
            _list(stub, **fields)
        code, _, violations, _ = rich_error(err.value)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert [f for f, _ in violations] == [field], fields
    assert len(_list(stub, org_id="acme", page_size=1_000_000).series) == 2  # lowered, not refused


def test_a_weekly_series_holds_its_value_over_its_week(tmp_path: Path) -> None:
    """A promotions calendar exported weekly (every Monday) reached rows only on Mondays, where
    the attribution panel carries each value over the six days after it: the join now reads
    it as the panel does. A daily series with gaps is not stretched."""
    reg = FactorRegistry(tmp_path / "f.sqlite")
    monday = dt.date(2024, 9, 2)
    weeks = tuple((monday + dt.timedelta(weeks=w), float(w + 1)) for w in range(8))
    reg.register("acme", FactorSeries("promo", "promotion", "crm", "share", "", weeks))
    gappy = tuple((D0 + dt.timedelta(days=i), 1.0) for i in range(0, 30, 3))
    reg.register("acme", FactorSeries("cci", "macro", "cb", "index", "", gappy))
    # a stream's table for a window that starts mid-week, after the first Monday
    first, last = _day(monday) + 9, _day(monday) + 20
    table = reg.table("acme", first, last)
    days = np.arange(first, last + 1)
    joined = {
        j.name: j.value
        for j in join_factors(table, days, pd.Series([""] * days.size), pd.Series([""] * days.size))
    }
    # Wednesday of week 2 .. Sunday of week 3: week 2's value, then week 3's from its Monday
    expected = np.where(days < _day(monday) + 14, 2.0, 3.0)
    assert np.array_equal(joined["promo"], expected)
    assert np.isnan(joined["cci"]).sum() == np.count_nonzero((days - _day(D0)) % 3)
    reg.close()
