"""The SDK's own reading of a mapped source's rows (``LiftOS.ingest``, called directly, not
through ``liftos ingest``) follows the rules the CLI and the connector follow (s18 R34 F1/F5,
E1's note): ``sum_rows=True`` added "2.906" + "1.500" + "987" as 991.406 where a German export
meant 5,393, and keyed a date-time written with its zone by the date as written, so a Berlin
order at 2024-10-26T22:30:00Z (the 27th there) was summed into the 26th and the SDK refused two
rows of different days as one key. Its '.' rule follows theirs (s18 V1 F4): only a column
proved grouped ("1.234.567") is refused; a US file written to three places ("412.500", or
"1.333" beside "3") is summed as decimals with a warning. Over real memory and ingestion
servers."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.cli.csv_dialect import Dialect
from mesh.runtime.written_numbers import number
from mesh.sdk.client import LiftOS
from mesh.sdk.generic_rows_numbers import DecimalDoubt, grouped_problem
from tests.ingestion.conftest import peers_of

BERLIN = {"account_id": "shop", "timezone": "Europe/Berlin", "currency": "EUR", "country": "DE"}
MAPPING = {"date": "Day", "geo": "Region", "revenue": "NetSales"}
GROUPED = [
    {"Day": "2024-10-01", "Region": "DE-BY", "NetSales": v} for v in ("2.906", "1.500", "987")
]


def _stored(address: str, org: str) -> dict[tuple[str, str], float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    try:
        scan = list(stub.Scan(memory_pb.ScanRequest(org_id=org)))
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        return {}
    return {
        (str(dt.date(r.local_date.year, r.local_date.month, r.local_date.day)), r.geo): r.revenue
        for b in scan
        for r in b.records
    }


PROVED = [*GROUPED, {"Day": "2024-10-01", "Region": "DE-BY", "NetSales": "1.234.567"}]
US = {"account_id": "pos", "timezone": "America/New_York", "currency": "USD", "country": "US"}
US_MAPPING = {"date": "date", "geo": "state", "conversions": "conversions", "revenue": "revenue"}
# V1's US columns: revenue to three places, linear attribution's thirds beside whole orders;
# two rows a day (two stores) for sum_rows to add
US_ROWS = [
    {"date": f"2024-01-0{k // 2 + 1}", "state": "CA", "conversions": c, "revenue": r}
    for k, (c, r) in enumerate(
        [("3", "412.500"), ("5", "87.125"), ("1.333", "233.750"), ("2", "19.990"),
         ("2.667", "640.000"), ("1", "1.000")]
    )
]  # fmt: skip


def test_sum_rows_refuses_a_proved_dot_grouped_column_and_reads_it_with_decimal(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    with LiftOS(peers, org_id="grouped") as client:
        with pytest.raises(ValueError, match="NetSales") as refused:
            client.ingest("generic", PROVED, account=BERLIN, mapping=MAPPING, sum_rows=True)
        text = str(refused.value)
        assert "'1.234.567' is written with '.' as a thousands separator" in text
        assert "decimal=','" in text
        assert _stored(peers.memory, "grouped") == {}  # nothing was sent
        got = client.ingest(
            "generic", PROVED, account=BERLIN, mapping=MAPPING, sum_rows=True, decimal=","
        )
    assert (got.rows, got.accepted, got.rejected) == (1, 1, 0)
    assert _stored(peers.memory, "grouped") == {("2024-10-01", "DE-BY"): 1239960.0}


def test_sum_rows_sums_us_three_place_columns_as_decimals(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    with LiftOS(peers, org_id="us") as client, pytest.warns(DecimalDoubt) as said:
        got = client.ingest("generic", US_ROWS, account=US, mapping=US_MAPPING, sum_rows=True)
    assert (got.rows, got.accepted, got.rejected) == (3, 3, 0)
    stored = _stored(peers.memory, "us")
    assert stored == {
        ("2024-01-01", "US-CA"): pytest.approx(499.625),
        ("2024-01-02", "US-CA"): pytest.approx(253.74),
        ("2024-01-03", "US-CA"): pytest.approx(641.0),
    }
    texts = [str(w.message) for w in said if w.category is DecimalDoubt]
    assert len(texts) == 2  # conversions and revenue, each named once
    assert any("conversions (conversions)" in t and "'1.333'" in t for t in texts)
    assert any("revenue (revenue)" in t and "'412.500' meaning 412,500" in t for t in texts)
    assert all("decimal=','" in t and "later pulled_at" in t for t in texts)


def test_an_ambiguous_german_column_warns_and_a_later_pull_with_decimal_restates_it(
    services,
) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    first = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with LiftOS(peers, org_id="doubt") as client:
        with pytest.warns(DecimalDoubt, match="'2.906' meaning 2,906"):
            client.ingest(
                "generic", GROUPED, account=BERLIN, mapping=MAPPING, sum_rows=True,
                pulled_at=first,
            )  # fmt: skip
        assert _stored(peers.memory, "doubt") == {("2024-10-01", "DE-BY"): pytest.approx(991.406)}
        client.ingest(
            "generic", GROUPED, account=BERLIN, mapping=MAPPING, sum_rows=True, decimal=",",
            pulled_at=first + dt.timedelta(minutes=1),
        )  # fmt: skip
    assert _stored(peers.memory, "doubt") == {("2024-10-01", "DE-BY"): 5393.0}


def test_decimal_reads_comma_decimals_without_summing_and_refuses_what_it_cannot(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    rows: list[dict[str, object]] = [
        {"Day": "2024-10-01", "Region": "DE-BY", "NetSales": "70.034,39"},
        {"Day": "2024-10-02", "Region": "DE-BY", "NetSales": 12.5},  # a number stays as it is
    ]
    with LiftOS(peers, org_id="comma") as client:
        got = client.ingest("generic", rows, account=BERLIN, mapping=MAPPING, decimal=",")
        assert (got.accepted, got.rejected) == (2, 0)
        bad: list[dict[str, object]] = [
            *rows,
            {"Day": "2024-10-03", "Region": "DE-BY", "NetSales": "12 EUR"},
        ]
        with pytest.raises(ValueError, match=r"row 2: NetSales \(revenue\) '12 EUR'"):
            client.ingest("generic", bad, account=BERLIN, mapping=MAPPING, decimal=",")
        with pytest.raises(ValueError, match="decimal=';'"):
            client.ingest("generic", rows, account=BERLIN, mapping=MAPPING, decimal=";")
    assert _stored(peers.memory, "comma") == {
        ("2024-10-01", "DE-BY"): pytest.approx(70034.39),
        ("2024-10-02", "DE-BY"): 12.5,
    }


ZONED = [
    {"Day": "2024-10-26T22:30:00Z", "Region": "DE-BY", "NetSales": 100},  # Berlin: 27th 00:30
    {"Day": "2024-10-26T12:00:00+02:00", "Region": "DE-BY", "NetSales": 50},  # the 26th
    {"Day": "2024-10-27T10:00:00+01:00", "Region": "DE-BY", "NetSales": 7},  # the 27th
]


def test_sum_rows_adds_a_zoned_time_into_its_day_in_the_account_zone(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    with LiftOS(peers, org_id="zoned") as client:
        got = client.ingest("generic", ZONED, account=BERLIN, mapping=MAPPING, sum_rows=True)
    assert (got.rows, got.accepted, got.rejected) == (2, 2, 0)
    assert _stored(peers.memory, "zoned") == {
        ("2024-10-26", "DE-BY"): 50.0,
        ("2024-10-27", "DE-BY"): 107.0,
    }


def test_the_key_check_keys_a_zoned_time_by_its_day_in_the_account_zone(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    with LiftOS(peers, org_id="keys") as client:
        # the first two are different Berlin days though both are written on the 26th
        got = client.ingest("generic", ZONED[:2], account=BERLIN, mapping=MAPPING)
        assert (got.accepted, got.rejected) == (2, 0)
        # the first and the third are one Berlin day though written on two
        with pytest.raises(ValueError, match="first lines 0 and 2: 2024-10-27 DE-BY"):
            client.ingest("generic", ZONED, account=BERLIN, mapping=MAPPING)
    assert _stored(peers.memory, "keys") == {
        ("2024-10-26", "DE-BY"): 50.0,
        ("2024-10-27", "DE-BY"): 100.0,
    }


def test_three_decimal_money_is_not_judged_but_counts_are() -> None:
    rows = [(i, f'{{"Day":"2024-10-01","Region":"KW","NetSales":"{v}"}}') for i, v in
            enumerate(("2.906", "1.500", "987", "1.234.567"))]  # fmt: skip
    assert grouped_problem(rows, MAPPING, "KWD") is None
    assert grouped_problem(rows, MAPPING, "EUR") is not None
    counts = {"date": "Day", "geo": "Region", "conversions": "NetSales"}
    assert "(conversions)" in (grouped_problem(rows, counts, "KWD") or "")


# The one rule (mesh.runtime.written_numbers) that the SDK's decimal= and liftos ingest
# --decimal both read by: value, what ',' reads, what '.' reads.
READ = [
    ("2.906", 2906, 2.906), ("1.234,56", 1234.56, None), ("1 234,56", 1234.56, None),
    ("1\u202f234,56", 1234.56, None), ("1'234,5", 1234.5, None), ("1234,5", 1234.5, None),
    ("-3,25", -3.25, None), ("12", 12, 12), ("1,234.56", None, 1234.56),
    ("1234.56", None, 1234.56), ("1,234", 1.234, 1234), ("1'234.50", None, 1234.5),
    ("1 234.50", None, 1234.5), ("1\u00a0234.5", None, 1234.5), ("1'234,567.5", None, None),
    ("12 34.5", None, None), ("12 EUR", None, None), ("1.23.4", None, None),
    ("1.2345,6", None, None), (",5", None, None), ("", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("value", "comma", "point"), READ)
def test_the_sdk_and_liftos_ingest_read_numbers_by_one_rule(
    value: str, comma: float | None, point: float | None
) -> None:
    for mark, want in ((",", comma), (".", point)):
        got = number(value, mark)
        assert got == want and type(got) is type(want), (value, mark, got)
        assert Dialect(decimal=mark).number(value) == want


def test_the_sdk_reads_swiss_groups_under_a_decimal_point(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    zurich = {"account_id": "ch", "timezone": "Europe/Zurich", "currency": "CHF", "country": "CH"}
    rows = [{"Day": "2024-10-01", "Region": "CH-ZH", "NetSales": "1'234.50"}]
    with LiftOS(peers, org_id="swiss") as client:
        got = client.ingest("generic", rows, account=zurich, mapping=MAPPING, decimal=".")
    assert (got.accepted, got.rejected) == (1, 0)
    assert _stored(peers.memory, "swiss") == {("2024-10-01", "CH-ZH"): 1234.5}
