"""A search's or scan's geo, spelt as the user's file spells it, finds the org's records of
that place (R52-F6): ingest stores "CA", "us-ca" and "California" of a US account as
"US-CA", and memory's filter reads them by the same rules (mesh.runtime.region_names). A
value the org has no records of is refused naming the closest values it has, as
docs/errors.md's UNKNOWN_FILTER_VALUE says; a spelling that is two stored places is refused
naming both. A real memory server (SQLite, FAISS) and the `liftos search` command."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.postgres import PostgresRecordStore
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordStore
from mesh.cli import search as cli
from mesh.runtime.status import decode_status
from mesh.sdk.failures import RpcFailure
from tests.memory.conftest import reason_and_fields, scan_all, write

US = "us_geos"
TWO = "two_cas"
# a US account's regions beside an account ingested without a country, its geos as written
MIXED = "mixed_cas"
CHANNELS = ("meta_retargeting", "google_search")


def _records(org: str, geos: tuple[str, ...]) -> list[md_pb.CausalMarketingData]:
    out = []
    for g, geo in enumerate(geos):
        for c, channel in enumerate(CHANNELS):
            for day in range(3):
                r = md_pb.CausalMarketingData(
                    org_id=org, data_source=1, account_id="act", geo=geo, currency_code="USD",
                    channel=channel, campaign_id=f"c{c}", campaign_name=f"{channel} sales",
                    spend=100.0 + day, revenue=250.0, version=1,
                )  # fmt: skip
                r.id = f"{org}-{g}-{c}-{day}"
                r.natural_key = f"meta|act|c{c}|{geo}|2024-12-2{day}"
                r.timestamp.FromSeconds(1734739200 + 86400 * day)
                r.local_date.year, r.local_date.month, r.local_date.day = 2024, 12, 21 + day
                out.append(r)
    return out


@pytest.fixture(scope="module")
def orgs(stub) -> None:
    for org, geos in (
        (US, ("US-CA", "US-NY", "DE-BY")),
        (TWO, ("US-CA", "ES-CA")),
        (MIXED, ("US-CA", "US-DE", "CA", "DE")),
    ):
        records = _records(org, geos)
        assert write(stub, org, records).inserted_count == len(records)


def _geos_found(stub, org: str, geo: str) -> set[str]:
    reply = stub.Search(
        memory_pb.SearchRequest(
            org_id=org, text="retargeting", k=50, include_records=True,
            filter=memory_pb.SearchFilter(geos=[geo]),
        ),
        timeout=30,
    )  # fmt: skip
    return {hit.record.geo for hit in reply.hits}


@pytest.mark.parametrize("spelt", ["US-CA", "CA", "ca", "us-ca", "California", "CALIFORNIA"])
def test_a_geo_spelt_as_ingest_reads_it_finds_the_stored_one(stub, orgs, spelt) -> None:
    assert _geos_found(stub, US, spelt) == {"US-CA"}


def test_a_name_in_another_country_and_a_scan(stub, orgs) -> None:
    assert _geos_found(stub, US, "Bayern") == {"DE-BY"}
    scanned = scan_all(stub, org_id=US, geos=["new york", "CA"])
    assert len(scanned) == 12 and {r.geo for r in scanned} == {"US-NY", "US-CA"}


def _refusal(stub, org: str, flt: memory_pb.SearchFilter) -> tuple[str, list[str], str]:
    with pytest.raises(grpc.RpcError) as failed:
        stub.Search(memory_pb.SearchRequest(org_id=org, text="x", k=5, filter=flt), timeout=30)
    code, reason, fields = reason_and_fields(failed.value)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    return reason, fields, decode_status(failed.value).message


def test_two_places_of_one_spelling_are_refused_naming_both(stub, orgs) -> None:
    reason, fields, message = _refusal(stub, TWO, memory_pb.SearchFilter(geos=["ca"]))
    assert (reason, fields) == ("UNKNOWN_FILTER_VALUE", ["filter.geos[0]"])
    assert "geo 'ca' is more than one place in org 'two_cas'" in message
    assert "'ES-CA', 'US-CA'" in message
    # the stored spelling, or one country's name, is one place
    assert _geos_found(stub, TWO, "US-CA") == {"US-CA"}
    assert _geos_found(stub, TWO, "California") == {"US-CA"}


@pytest.mark.parametrize(
    ("spelt", "read"),
    [
        ("CA", "CA"), ("ca", "CA"), (" Ca ", "CA"), ("DE", "DE"), ("de", "DE"),
        ("US-CA", "US-CA"), ("us-ca", "US-CA"), ("California", "US-CA"), ("Delaware", "US-DE"),
    ],
)  # fmt: skip
def test_a_geo_stored_without_a_country_is_not_another_countrys_region(
    stub, orgs, spelt, read
) -> None:
    """V2-F5: 'ca' read the country-less CA (Canada, maybe) and US-CA together, 'CA' the CA
    alone. The stored spelling, case aside, is one place whatever the letter case."""
    assert _geos_found(stub, MIXED, spelt) == {read}


def test_a_spelling_of_a_country_less_geo_and_a_region_is_refused_naming_both(stub, orgs) -> None:
    reason, fields, message = _refusal(stub, MIXED, memory_pb.SearchFilter(geos=["us-california"]))
    assert (reason, fields) == ("UNKNOWN_FILTER_VALUE", ["filter.geos[0]"])
    assert message == (
        "geo 'us-california' is more than one place in org 'mixed_cas': name one of 'CA', 'US-CA'"
    )


def test_an_unknown_value_is_refused_naming_the_closest(stub, orgs) -> None:
    flt = memory_pb.SearchFilter(channels=["meta_retargetin"], geos=["Californa", "Texas"])
    reason, fields, message = _refusal(stub, US, flt)
    assert reason == "UNKNOWN_FILTER_VALUE"
    assert fields == ["filter.channels[0]", "filter.geos[0]", "filter.geos[1]"]
    assert message == (
        "channel 'meta_retargetin' has no records in org 'us_geos'; the closest it has: "
        "'meta_retargeting'"
    )
    status = decode_status(_catch(stub, flt))
    said = {
        v.field: v.description for d in status.details for v in getattr(d, "field_violations", [])
    }
    assert said["filter.geos[0]"].endswith("; the closest it has: 'US-CA'")
    assert said["filter.geos[1]"] == "geo 'Texas' has no records in org 'us_geos'"


def _catch(stub, flt: memory_pb.SearchFilter) -> grpc.RpcError:
    try:
        stub.Search(memory_pb.SearchRequest(org_id=US, text="x", k=5, filter=flt), timeout=30)
    except grpc.RpcError as err:
        return err
    raise AssertionError("the search was not refused")


def test_liftos_search_by_the_users_spelling(server, orgs, capsys) -> None:
    parser = argparse.ArgumentParser(prog="liftos")
    cli.register(parser.add_subparsers())
    for geo in ("CA", "California"):
        args = parser.parse_args(["search", "--addr", server, "--org", US, "--geo", geo, "--k", "2", "retargeting"])  # fmt: skip
        out = io.StringIO()
        assert args.func(args, out) == 0, capsys.readouterr().err
        assert len(out.getvalue().splitlines()[1:-1]) == 2
    args = parser.parse_args(["search", "--addr", server, "--org", US, "--geo", "new yrok", "x"])
    with pytest.raises(RpcFailure) as refused:  # main() prints it as "error [REASON]: ..."
        args.func(args, io.StringIO())
    assert refused.value.reason == "UNKNOWN_FILTER_VALUE"
    assert "geo 'new yrok' has no records in org 'us_geos'; the closest it has: 'US-NY'" in str(
        refused.value
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryEngine]:
    store: RecordStore
    if request.param == "sqlite":
        store = SQLiteRecordStore(tmp_path / "m.sqlite")
    else:
        store = PostgresRecordStore(request.getfixturevalue("postgres_url"))
    index = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
    opened = MemoryEngine(store, IndexManager(tmp_path / "index", index), MemorySettings(index=index))  # fmt: skip
    yield opened
    opened.close()  # the store too


def test_both_stores_name_the_orgs_geos_of_each_kind(engine: MemoryEngine) -> None:
    """The names a refusal and a geo's spelling are read from: the org's nodes of one kind,
    and no other org's, on SQLite and PostgreSQL alike."""
    store = engine.store
    for org, geos in ((US, ("US-NY", "US-CA", "DE-BY")), (TWO, ("ES-CA",))):
        batch = convert.write_batch(memory_pb.WriteRequest(org_id=org, records=_records(org, geos)), None)  # fmt: skip
        engine.write(org, batch.frame, batch.given_vectors, convert.serialiser(batch.records))
    assert store.node_names(US, "geo") == ["DE-BY", "US-CA", "US-NY"]
    assert store.node_names(US, "channel") == sorted(CHANNELS)
    assert store.node_names(TWO, "geo") == ["ES-CA"]
    assert store.node_names(US, "experiment") == []
