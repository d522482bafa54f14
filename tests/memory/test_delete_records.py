"""DeleteRecords and ListAccounts on real memory servers (SQLite and PostgreSQL, real FAISS):
an org holding accounts A and B, with B deleted, answers every read exactly as a memory that
only ever stored A (R31 F1)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import table_pb2 as table_pb

from memory_svc.app import build
from memory_svc.postgres.cluster import ThrowawayCluster
from mesh.runtime.auth import AuthConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import record_id, synthetic_records

from .conftest import reason_and_fields, scan_all, write

ORG = "agency-client"
_START = dt.date(2024, 10, 20)
Stub = memory_grpc.MemoryServiceStub


def _relabel(records: list[md_pb.CausalMarketingData], account: str, currency: str) -> None:
    """Move synthetic records (account act-1) to another account: key, id and currency."""
    for r in records:
        r.account_id = account
        r.natural_key = r.natural_key.replace("|act-1|", f"|{account}|")
        r.id = record_id(ORG, r.natural_key)
        r.currency_code = currency


def _restated(records: list[md_pb.CausalMarketingData]) -> list[md_pb.CausalMarketingData]:
    """Version 2 of every 9th record, with other numbers (a platform restatement)."""
    out = []
    for r in records[::9]:
        x = md_pb.CausalMarketingData()
        x.CopyFrom(r)
        x.version = 2
        x.spend = round(r.spend * 1.1 + 1.0, 2)
        out.append(x)
    return out


def _product(key: str, source: int, day: int, account: str, product: md_pb.ProductDimension,
             **fields: object) -> md_pb.CausalMarketingData:  # fmt: skip
    d = _START + dt.timedelta(days=day)
    r = md_pb.CausalMarketingData(
        id=record_id(ORG, key), org_id=ORG, data_source=source, natural_key=key, version=1,  # type: ignore[arg-type]
        account_id=account, local_date=common_pb.Date(year=d.year, month=d.month, day=d.day),
        currency_code="USD", product=product, **fields,  # type: ignore[arg-type]
    )  # fmt: skip
    r.timestamp.FromDatetime(dt.datetime.combine(d, dt.time(), dt.UTC))
    return r


def _products_a() -> list[md_pb.CausalMarketingData]:
    """The shop's order lines and catalogue, and a Google shopping report row of account A."""
    shoes = md_pb.ProductDimension(product_id="p1", variant_id="v1", category="Shoes",
                                   list_price=50.0, unit_cost=20.0, title="Runner")  # fmt: skip
    return [
        *(_product(f"shopify|shop|{o}|{o}", common_pb.DATA_SOURCE_SHOPIFY_ORDERS, o % 5, "shop",
                   md_pb.ProductDimension(product_id="p1", order_id=str(o), line_item_id=str(o),
                                          quantity=1 + o % 3, list_price=50.0, category="Shoes"),
                   revenue=50.0 * (1 + o % 3), channel="first_party")
          for o in range(12)),
        _product("shopify|shop|product|p1|v1", common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS, 0, "shop",
                 shoes),
        _product("google_ads_shopping|act-1|c1|p1|2024-10-21",
                 common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING, 1, "act-1",
                 md_pb.ProductDimension(product_id="p1"), spend=30.0, impressions=900,
                 clicks=20, conversions=2.0, revenue=100.0, channel="google_shopping",
                 campaign_id="c1"),
    ]  # fmt: skip


def _products_b() -> list[md_pb.CausalMarketingData]:
    """Google shopping report rows of account B (the same product and days as A's)."""
    return [
        _product(f"google_ads_shopping|act-2|c1|p1|{_START + dt.timedelta(days=d)}",
                 common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING, d, "act-2",
                 md_pb.ProductDimension(product_id="p1"), spend=10.0 + d, impressions=300,
                 clicks=5, conversions=1.0, revenue=40.0, channel="google_shopping",
                 campaign_id="c1")
        for d in range(4)
    ]  # fmt: skip


def _account_a() -> list[list[md_pb.CausalMarketingData]]:
    """Account A's writes, in order: its records, a restatement of some, its product rows."""
    records = synthetic_records(ORG, 480, seed=7, campaigns=6, geos=4, start=_START)
    return [records, _restated(records), _products_a()]


def _account_b() -> list[list[md_pb.CausalMarketingData]]:
    """Account B (billed in EUR) on the same campaigns, geos and days as A, restated too."""
    records = synthetic_records(ORG, 480, seed=8, campaigns=6, geos=4, start=_START)
    _relabel(records, "act-2", "EUR")
    return [records, _restated(records), _products_b()]


Builds = Callable[[], Callable[..., object]]


@pytest.fixture(params=["sqlite", "postgresql"])
def builds(request: pytest.FixtureRequest) -> Iterator[Builds]:
    """Memory builds of the parametrised store: each call gives one of a new, empty store."""
    if request.param == "sqlite":
        yield lambda: build
        return
    cluster: ThrowawayCluster = request.getfixturevalue("postgres_cluster")
    names: list[str] = []

    def new() -> Callable[..., object]:
        names.append(f"t_{uuid.uuid4().hex[:12]}")
        return functools.partial(build, store=cluster.create_database(names[-1]))

    try:
        yield new
    finally:
        for name in names:
            cluster.drop_database(name)


@contextmanager
def _memory(make: Callable[..., object], data: Path) -> Iterator[Stub]:
    with (
        running_services({"memory": make}, data) as services,  # type: ignore[dict-item]
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        yield Stub(channel)


def _write_all(stub: Stub, writes: list[list[md_pb.CausalMarketingData]]) -> None:
    for records in writes:
        assert write(stub, ORG, records).refused_count == 0


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6) or (math.isnan(a) and math.isnan(b))


def _same_table(got: table_pb.Table, want: table_pb.Table, what: str) -> None:
    assert got.row_count == want.row_count, what
    assert [c.name for c in got.columns] == [c.name for c in want.columns], what
    for g, w in zip(got.columns, want.columns, strict=True):
        kind = w.WhichOneof("values")
        assert g.WhichOneof("values") == kind, (what, w.name)
        a, b = list(getattr(g, kind).values), list(getattr(w, kind).values)  # type: ignore[arg-type]
        if kind == "doubles":
            assert all(_close(x, y) for x, y in zip(a, b, strict=True)), (what, w.name)
        else:
            assert a == b, (what, w.name)


def _reads(stub: Stub) -> dict[str, object]:
    """What every read of the org answers, in a comparable form."""
    agg = stub.AggregateRecords(
        memory_pb.AggregateRecordsRequest(org_id=ORG, campaign_geo_spend=True), timeout=60
    )
    products = stub.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=ORG), timeout=60)
    search = stub.Search(
        memory_pb.SearchRequest(org_id=ORG, text="prospecting spend california", k=40), timeout=60
    )
    graph = stub.QueryGraph(
        memory_pb.QueryGraphRequest(org_id=ORG, node_id="campaign:c1", depth=2, max_nodes=5000),
        timeout=60,
    )
    return {
        "aggregate": agg,
        "products": products,
        "scan": {r.id: r for r in scan_all(stub, org_id=ORG, include_embeddings=True)},
        "search": [(h.record_id, h.score) for h in search.hits],
        "nodes": sorted((n.id, n.record_count) for n in graph.nodes),
        "edges": sorted((e.source, e.target, e.type, e.weight) for e in graph.edges),
        "spaces": stub.ListConceptualSpaces(
            memory_pb.ListConceptualSpacesRequest(org_id=ORG), timeout=60
        ),
        "accounts": stub.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60),
    }


def _same_reads(got: dict[str, object], want: dict[str, object]) -> None:
    g_agg, w_agg = got["aggregate"], want["aggregate"]
    assert isinstance(g_agg, memory_pb.AggregateRecordsResponse)
    assert isinstance(w_agg, memory_pb.AggregateRecordsResponse)
    assert g_agg.record_count == w_agg.record_count
    for name in ("geo_days", "campaign_days", "campaign_geo_days", "currencies", "campaign_names"):
        _same_table(getattr(g_agg, name), getattr(w_agg, name), name)
    g_prod, w_prod = got["products"], want["products"]
    assert isinstance(g_prod, memory_pb.AggregateProductsResponse)
    assert isinstance(w_prod, memory_pb.AggregateProductsResponse)
    assert g_prod.record_count == w_prod.record_count
    for name in ("sales", "spend", "catalogue"):
        _same_table(getattr(g_prod, name), getattr(w_prod, name), name)
    assert got["scan"] == want["scan"]
    g_hits, w_hits = got["search"], want["search"]
    assert [i for i, _ in g_hits] == [i for i, _ in w_hits]  # type: ignore[attr-defined]
    assert all(_close(a, b) for (_, a), (_, b) in zip(g_hits, w_hits, strict=True))  # type: ignore[call-overload]
    for name in ("nodes", "edges", "spaces", "accounts"):
        assert got[name] == want[name], name


def _delete(stub: Stub, **fields: object) -> memory_pb.DeleteRecordsResponse:
    return stub.DeleteRecords(memory_pb.DeleteRecordsRequest(org_id=ORG, **fields), timeout=60)  # type: ignore[arg-type]


def test_deleting_an_account_leaves_what_memory_holds_without_it(
    builds: Builds, tmp_path: Path
) -> None:
    a, b = _account_a(), _account_b()
    with _memory(builds(), tmp_path / "a") as only_a:
        _write_all(only_a, a)
        want = _reads(only_a)
    both_build = builds()
    with _memory(both_build, tmp_path / "ab") as both:
        _write_all(both, a)
        _write_all(both, b)
        listed = both.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG), timeout=60)
        held = {(x.source, x.account_id): x for x in listed.accounts}
        b_ads = held[(common_pb.DATA_SOURCE_META, "act-2")]
        assert list(b_ads.currencies) == ["EUR"]
        assert list(held[(common_pb.DATA_SOURCE_META, "act-1")].currencies) == ["USD"]
        assert (b_ads.first_date.month, b_ads.first_date.day) == (10, 20)
        assert listed.record_count == 2 * 480 + len(a[2]) + len(b[2])
        # the dry run counts and deletes nothing
        dry = _delete(both, account_id="act-2", dry_run=True)
        assert dry.dry_run and dry.deleted_count == 480 + len(b[2])
        assert dry.history_count == len(b[1])  # the restated versions
        assert dry.org_record_count == listed.record_count
        assert both.ListAccounts(memory_pb.ListAccountsRequest(org_id=ORG)) == listed
        # B's campaign records, then (source and dates) its shopping report rows
        ads = _delete(both, account_id="act-2", source=common_pb.DATA_SOURCE_META)
        days = common_pb.DateRange(start_date=common_pb.Date(year=2024, month=10, day=20))
        rest = _delete(both, account_id="act-2", date_range=days)
        assert ads.deleted_count + rest.deleted_count == dry.deleted_count
        assert ads.history_count + rest.history_count == len(b[1])
        assert [(x.source, x.account_id) for x in ads.accounts] == [
            (common_pb.DATA_SOURCE_META, "act-2")
        ]
        assert rest.org_record_count == 480 + len(a[2])
        _same_reads(_reads(both), want)
        assert _delete(both, account_id="act-2").deleted_count == 0
    # what was saved and recovered (the search index, the sums) holds the same after a restart
    with _memory(both_build, tmp_path / "ab") as again:
        _same_reads(_reads(again), want)
        # B's export written again is stored again, not taken for what memory held
        for records in b:
            reply = write(again, ORG, records)
            assert reply.unchanged_count == 0 and reply.refused_count == 0


def test_an_unfiltered_delete_is_refused_naming_the_fields(builds: Builds, tmp_path: Path) -> None:
    with _memory(builds(), tmp_path / "m") as stub:
        _write_all(stub, _account_a()[:1])
        with pytest.raises(grpc.RpcError) as err:
            _delete(stub)
        code, _, fields = reason_and_fields(err.value)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert fields == ["source", "account_id", "date_range"]
        with pytest.raises(grpc.RpcError) as err:
            _delete(stub, all_records=True, source=common_pb.DATA_SOURCE_META)
        assert reason_and_fields(err.value)[2] == ["all_records"]
        with pytest.raises(grpc.RpcError) as err:
            _delete(stub, account_id="act-1", date_range=common_pb.DateRange(
                start_date=common_pb.Date(year=2024, month=11, day=2),
                end_date=common_pb.Date(year=2024, month=11, day=1)))  # fmt: skip
        assert reason_and_fields(err.value)[2] == ["date_range"]
        everything = _delete(stub, all_records=True)
        assert everything.deleted_count == 480 and everything.org_record_count == 0
        with pytest.raises(grpc.RpcError) as err:
            stub.AggregateRecords(memory_pb.AggregateRecordsRequest(org_id=ORG), timeout=60)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_delete_racing_writes_and_a_scan(builds: Builds, tmp_path: Path) -> None:
    """A Scan begun before a delete reads the records as they were; writes of another account
    racing the delete are all kept, and the sums are those of the records left."""
    a, b = _account_a(), _account_b()
    c = synthetic_records(ORG, 480, seed=9, campaigns=6, geos=4, start=_START)
    _relabel(c, "act-3", "USD")
    batches = [c[i : i + 60] for i in range(0, len(c), 60)]
    with _memory(builds(), tmp_path / "ac") as fresh:
        _write_all(fresh, [*a, *batches])
        want = fresh.AggregateRecords(
            memory_pb.AggregateRecordsRequest(org_id=ORG, campaign_geo_spend=True), timeout=60
        )
    with _memory(builds(), tmp_path / "abc") as stub:
        _write_all(stub, [*a, *b])
        scan = stub.Scan(memory_pb.ScanRequest(org_id=ORG, batch_size=100), timeout=60)
        first = next(scan)
        with ThreadPoolExecutor(2) as pool:
            writes = pool.submit(_write_all, stub, batches)
            deleted = pool.submit(_delete, stub, account_id="act-2")
            writes.result()
            assert deleted.result().deleted_count == 480 + len(b[2])
        seen = len(first.records) + sum(len(m.records) for m in scan)
        assert seen == 2 * 480 + len(a[2]) + len(b[2])  # the Scan's snapshot: B included
        got = stub.AggregateRecords(
            memory_pb.AggregateRecordsRequest(org_id=ORG, campaign_geo_spend=True), timeout=60
        )
    assert got.record_count == want.record_count == 2 * 480 + len(a[2])
    for name in ("geo_days", "campaign_days", "campaign_geo_days", "currencies"):
        _same_table(getattr(got, name), getattr(want, name), name)


def test_deleting_takes_a_key_with_the_delete_scope(tmp_path: Path) -> None:
    """A user's public key (or a read scope) lists the accounts but cannot delete; a key with
    records.delete deletes its own org's records, not another org's."""
    keys = AuthConfig.parse(
        "k-load:agency-client:records.write,k-user:agency-client,"
        "k-read:agency-client:memory.read,k-admin:agency-client:public+records.delete,"
        "k-other:other-org:public+records.delete"
    )

    def key(k: str) -> tuple[tuple[str, str]]:
        return (("authorization", f"Bearer {k}"),)

    with (
        running_services({"memory": build}, tmp_path, auth=keys) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        stub = Stub(channel)
        records = _account_a()[0]
        stub.Write(iter([memory_pb.WriteRequest(org_id=ORG, records=records)]), timeout=60,
                   metadata=key("k-load"))  # fmt: skip
        listed = stub.ListAccounts(
            memory_pb.ListAccountsRequest(org_id=ORG), timeout=60, metadata=key("k-user")
        )
        assert {a.account_id for a in listed.accounts} == {"act-1"}
        assert sum(a.record_count for a in listed.accounts) == listed.record_count == 480
        paged: list[memory_pb.AccountRecords] = []
        token = ""
        while True:  # a page at a time, the same accounts in the same order
            page = stub.ListAccounts(
                memory_pb.ListAccountsRequest(org_id=ORG, page_size=1, page_token=token),
                timeout=60, metadata=key("k-user"),
            )  # fmt: skip
            paged.extend(page.accounts)
            token = page.next_page_token
            if not token:
                break
        assert paged == list(listed.accounts) and len(paged) > 1
        request = memory_pb.DeleteRecordsRequest(org_id=ORG, account_id="act-1", dry_run=True)
        for k in ("k-user", "k-read", "k-other"):
            with pytest.raises(grpc.RpcError) as err:
                stub.DeleteRecords(request, timeout=60, metadata=key(k))
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, k
        done = stub.DeleteRecords(request, timeout=60, metadata=key("k-admin"))
        assert done.deleted_count == 480 and done.dry_run


def _local_day(r: md_pb.CausalMarketingData) -> dt.date:
    return dt.date(r.local_date.year, r.local_date.month, r.local_date.day)


def test_deleting_a_source_s_days_leaves_the_other_days_and_sources(
    builds: Builds, tmp_path: Path
) -> None:
    """A date range of one source: the sums of its other days and of the other sources on
    those days are what a memory that never stored the range holds."""
    a, b = _account_a(), _account_b()
    first, last = dt.date(2024, 10, 25), dt.date(2024, 11, 2)

    def gone(r: md_pb.CausalMarketingData) -> bool:
        return r.data_source == common_pb.DATA_SOURCE_META and first <= _local_day(r) <= last

    kept = [[r for r in records if not gone(r)] for records in (*a, *b)]
    with _memory(builds(), tmp_path / "kept") as fresh:
        _write_all(fresh, [k for k in kept if k])
        want = _reads(fresh)
    with _memory(builds(), tmp_path / "all") as stub:
        _write_all(stub, [*a, *b])
        days = common_pb.DateRange(
            start_date=common_pb.Date(year=first.year, month=first.month, day=first.day),
            end_date=common_pb.Date(year=last.year, month=last.month, day=last.day),
        )
        done = _delete(stub, source=common_pb.DATA_SOURCE_META, date_range=days)
        assert done.deleted_count == sum(gone(r) for r in (*a[0], *b[0]))
        got = _reads(stub)
    assert got["accounts"] == want["accounts"]
    assert got["nodes"] == want["nodes"] and got["edges"] == want["edges"]
    g_agg, w_agg = got["aggregate"], want["aggregate"]
    assert isinstance(g_agg, memory_pb.AggregateRecordsResponse)
    assert isinstance(w_agg, memory_pb.AggregateRecordsResponse)
    for name in ("geo_days", "campaign_days", "campaign_geo_days", "currencies"):
        _same_table(getattr(g_agg, name), getattr(w_agg, name), name)
    assert set(got["scan"]) == set(want["scan"])  # type: ignore[call-overload]
