"""Fuzzed raw rows for the product sources (Shopify orders and catalogue, Google shopping and
Meta product reports): mutants of a products world's real export lines (``sim.raw.mutate``:
deep nesting, type confusion, huge and tiny numbers, impossible dates, broken unicode,
truncation, duplicate and missing keys, ...) mixed with clean lines.

Whatever a line holds, it is accepted or rejected alone, with a field, a known reason and a
message, and the clean lines beside it are kept: in process through the product pipeline,
and over gRPC to real ingestion and memory servers.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.product_batch import ProductBook, finish_products, prepare_products
from ingestion_svc.raw_batch import Account
from mesh.runtime.tables import table_to_frame
from sim.raw.mutate import mixed_batches, split
from tests.ingestion.conftest import raw_batch
from tests.ingestion.fuzzing import broken_promises

SOURCES = {
    "shopify_orders": common_pb.DATA_SOURCE_SHOPIFY_ORDERS,
    "shopify_products": common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS,
    "google_ads_shopping": common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
    "meta_products": common_pb.DATA_SOURCE_META_PRODUCTS,
}
# The world ends 2023-10-28; its exports are pulled the morning after.
PULLED = dt.datetime(2023, 10, 30, 9, tzinfo=dt.UTC)
# (batches, mutants, clean) per source in process; the catalogue has 14 products.
SIZES = {
    "shopify_orders": (8, 100, 40),
    "shopify_products": (2, 100, 3),
    "google_ads_shopping": (6, 100, 40),
    "meta_products": (6, 100, 40),
}


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate(
        "products", seed=3, days=120, n_geos=3, products=3, product_orders_per_day=40.0
    )


def _unit(source: str, row: dict[str, Any]) -> str:
    """What a row is about, so that no mutant can carry a clean row's unit."""
    if source in ("shopify_orders", "shopify_products"):
        return str(row["id"])
    if source == "google_ads_shopping":
        return str(row["segments"]["productItemId"])
    return str(row["product_id"])


@pytest.fixture(scope="module")
def corpora(world: sim.SimResult) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Per source: clean rows (one per unit and date, the export's dirt left out) and rows to
    mutate, of other units."""
    pw = world.products
    assert pw is not None
    exports: dict[str, list[Any]] = {
        "shopify_orders": list(pw.orders),
        "shopify_products": pw.catalogue_json()["products"],
        "google_ads_shopping": list(pw.report_rows("google_ads")),
        "meta_products": list(pw.report_rows("meta")),
    }
    out = {}
    for source, rows in exports.items():
        seen: set[str] = set()
        unique = []
        for r in rows:
            if not isinstance(r, dict):
                continue
            key = json.dumps(r, sort_keys=True) if "orders" not in source else str(r["id"])
            if key not in seen:
                seen.add(key)
                unique.append(r)
        clean, mutable = split(_unit(source, r) for r in unique)
        out[source] = ([unique[i] for i in clean], [unique[i] for i in mutable])
    return out


def _account(world: sim.SimResult) -> Account:
    assert world.products is not None
    store = world.products.stores[0]
    return Account(timezone=store["timezone"], currency=store["currency"], country="US")


@pytest.mark.parametrize("source", SOURCES)
def test_mutated_product_lines_in_process(
    world: sim.SimResult, corpora: dict[str, Any], source: str, caplog: pytest.LogCaptureFixture
) -> None:
    clean, mutable = corpora[source]
    n_batches, mutated, good = SIZES[source]
    batches = mixed_batches(clean, mutable, seed=17, batches=n_batches, mutated=mutated, good=good)
    assert len({m.kind for b in batches for m in b.mutants if m is not None}) >= 12
    book = ProductBook()
    problems: list[str] = []
    for k, b in enumerate(batches):
        size = len(b.lines)
        batch = raw_batch(
            source, b.lines, _account(world), batch_id=f"p{k}", pulled_at=PULLED,
            row_offset=k * size,
        )  # fmt: skip
        result = finish_products(prepare_products(batch), book)
        rejections = [(r.row_index, r.field, r.reason, r.message) for r in result.rejections]
        problems += broken_promises(b, result.accepted, rejections)
        kept = set(result.records["row"].tolist())
        missing = [i for i, g in enumerate(b.good) if g is not None and i not in kept]
        if missing:
            problems.append(f"batch {k}: clean rows {missing[:5]} wrote no record")
    assert not problems, f"{source}: " + "\n".join(problems[:10])
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[:2000]


def test_mutated_product_lines_over_grpc(
    services: dict[str, Any], world: sim.SimResult, corpora: dict[str, Any]
) -> None:
    """One mixed batch per source through a real Ingest stream: no batch fails, every clean
    line is acked and its records are in memory."""
    store = world.products.stores[0] if world.products else {}
    account = ingestion_pb.AccountInfo(
        timezone=store["timezone"], currency_code=store["currency"], country_code="US"
    )
    channel = grpc.insecure_channel(services["ingestion"].address)
    stub = ingestion_grpc.IngestionServiceStub(channel)
    problems: list[str] = []
    clean_records = 0
    clean_products: set[str] = set()
    for source, enum in SOURCES.items():
        clean, mutable = corpora[source]
        good = 3 if source == "shopify_products" else 30
        (b,) = mixed_batches(clean, mutable, seed=31, batches=1, mutated=120, good=good)
        request = ingestion_pb.IngestRequest(
            org_id="fuzzp", source=enum, batch_id=f"w-{source}", json_rows=b.lines,
            account=account,
        )  # fmt: skip
        request.pulled_at.FromDatetime(PULLED.replace(tzinfo=None))
        (ack,) = list(stub.Ingest(iter([request]), timeout=120))
        rejections = [(r.row_index, r.field, _reason(r.reason), r.message) for r in ack.rejections]
        problems += [f"{source}: {p}" for p in broken_promises(b, ack.accepted_count, rejections)]
        rows = [clean[g] for g in b.good if g is not None]
        clean_records += sum(_records(source, r) for r in rows)
        if source == "shopify_products":
            clean_products |= {str(r["id"]) for r in rows}
    assert not problems, "\n".join(problems[:10])
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    stored = memory.AggregateProducts(
        memory_pb.AggregateProductsRequest(org_id="fuzzp"), timeout=60
    )
    # mutants that were accepted add their own records beside the clean ones
    assert stored.record_count >= clean_records
    assert clean_products <= set(table_to_frame(stored.catalogue)["product_id"])
    channel.close()


def _records(source: str, row: dict[str, Any]) -> int:
    if source == "shopify_orders":
        return len(row["line_items"])
    if source == "shopify_products":
        return len(row["variants"])
    return 1


def _reason(value: ingestion_pb.RejectionReason.ValueType) -> str:
    return ingestion_pb.RejectionReason.Name(value).removeprefix("REJECTION_REASON_").lower()
