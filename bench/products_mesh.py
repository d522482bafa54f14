"""Products through the mesh over gRPC (issue 20): ingest a ``products`` world's raw exports,
sum them where they are stored (AggregateProducts) and analyse them (AnalyzeProducts).

Printed: Ingest's rows/s per source (dirt included: malformed lines, duplicate pulls,
restated orders), beside the campaign pipeline on the same world's Meta geo export; AggregateProducts' median latency and reply size beside the reference
measured in the same run — a Scan of every product record to the client and the same sums
built there with pandas, which is what shipping each order line to the causal service would
cost; AnalyzeProducts' wall time over gRPC and the server's own stage timings; and the
sales totals checked against truth.json.

Run: PYTHONPATH=.:gen python bench/products_mesh.py [--days 365] [--orders-per-day 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import grpc
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ing_pb
from liftos.v1 import ingestion_pb2_grpc as ing_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from bench._figures import figure
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import table_to_frame
from tests.products.test_products_mesh import ORG, SOURCES, exports, requests


def _scan_sums(memory: memory_grpc.MemoryServiceStub) -> tuple[pd.DataFrame, int]:
    """The reference: every order line to the client, summed there (what AggregateProducts
    spares)."""
    rows = []
    for reply in memory.Scan(memory_pb.ScanRequest(
        org_id=ORG, sources=[SOURCES["shopify_orders"]], batch_size=10_000,  # type: ignore[list-item]
    )):  # fmt: skip
        for r in reply.records:
            p, d = r.product, r.local_date
            rows.append((f"{d.year:04d}-{d.month:02d}-{d.day:02d}", p.product_id, p.quantity,
                         p.list_price * p.quantity, p.discount_amount, r.revenue,
                         p.refund_amount))  # fmt: skip
    frame = pd.DataFrame(rows, columns=["date", "product_id", "units", "gross", "discounts",
                                        "net_sales", "refunds"])  # fmt: skip
    return frame.groupby(["date", "product_id"]).sum().reset_index(), len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--orders-per-day", type=float, default=60.0)
    ap.add_argument("--categories", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    t = time.perf_counter()
    world = sim.simulate("products", seed=7, days=args.days, n_geos=3,
                         products=args.categories, product_orders_per_day=args.orders_per_day)  # fmt: skip
    print(f"world: {args.days} days, {args.categories} categories, "
          f"{time.perf_counter() - t:.1f}s to simulate")  # fmt: skip
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with tempfile.TemporaryDirectory() as tmp, running_services(builds, Path(tmp)) as services:
        ingestion = ing_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        print(f"\n{'source':22s} {'rows':>8s} {'seconds':>8s} {'rows/s':>8s} {'rejected':>9s}")
        for source, lines in exports(world).items():
            t = time.perf_counter()
            acks = list(ingestion.Ingest(requests(world, source, lines, "bench")))
            s = time.perf_counter() - t
            rejected = sum(a.rejected_count for a in acks)
            print(f"{source:22s} {len(lines):8,d} {s:8.2f} {len(lines) / s:8,.0f} {rejected:9,d}")
        # reference, same run: the campaign pipeline on the world's Meta geo export
        meta = next(a for a in world.accounts if a["source"] == "meta")
        lines = list(world.raw["meta"].lines())
        account = ing_pb.AccountInfo(account_id=meta["account_id"], timezone=meta["timezone"],
                                     currency_code=meta["currency"], country_code="US",
                                     geo_keys=meta["geo_keys"])  # fmt: skip
        t = time.perf_counter()
        list(ingestion.Ingest(
            ing_pb.IngestRequest(org_id="reference", source=common_pb.DATA_SOURCE_META,
                                 batch_id=f"ref-{i}", json_rows=lines[i : i + 500],
                                 account=account, row_offset=i)
            for i in range(0, len(lines), 500)
        ))  # fmt: skip
        s = time.perf_counter() - t
        print(f"{'reference: meta (geo)':22s} {len(lines):8,d} {s:8.2f} {len(lines) / s:8,.0f}")
        memory = memory_grpc.MemoryServiceStub(
            grpc.insecure_channel(
                services["memory"].address, options=[("grpc.max_receive_message_length", 256 << 20)]
            )
        )
        request = memory_pb.AggregateProductsRequest(org_id=ORG)
        spend_request = memory_pb.AggregateProductsRequest(org_id=ORG, spend_only=True)
        agg_s, scan_s, spend_s = [], [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            reply = memory.AggregateProducts(request)
            sales = table_to_frame(reply.sales)
            agg_s.append(time.perf_counter() - t)
            # what AnalyzeAttribution asks for its product-spend warning
            t = time.perf_counter()
            spend_reply = memory.AggregateProducts(spend_request)
            spend_s.append(time.perf_counter() - t)
            assert spend_reply.spend == reply.spend and not spend_reply.sales.row_count
            t = time.perf_counter()
            ref, lines_scanned = _scan_sums(memory)
            scan_s.append(time.perf_counter() - t)
        a, b = statistics.median(agg_s), statistics.median(scan_s)
        print(f"\nAggregateProducts: median {a * 1e3:.0f} ms for {reply.record_count:,} records "
              f"-> {reply.sales.row_count:,} sales + {reply.spend.row_count:,} spend rows, "
              f"{reply.ByteSize() / 1e6:.2f} MB")  # fmt: skip
        print(f"reference (Scan {lines_scanned:,} order lines + pandas): median {b * 1e3:.0f} ms"
              f" -> {b / a:.1f}x AggregateProducts")  # fmt: skip
        figure(f"AggregateProducts over gRPC, {reply.record_count:,} product records", a * 1e3,
               "ms", reference="Scan of every order line + pandas", reference_value=b * 1e3)  # fmt: skip
        c = statistics.median(spend_s)
        print(f"AggregateProducts spend_only (attribution's read): median {c * 1e3:.0f} ms for "
              f"{spend_reply.record_count:,} report rows, {spend_reply.ByteSize() / 1e6:.2f} MB "
              f"-> {c / a:.2f}x the whole call")  # fmt: skip
        figure("AggregateProducts spend_only over gRPC", c * 1e3, "ms",
               reference="the whole AggregateProducts", reference_value=a * 1e3)  # fmt: skip
        assert abs(ref["units"].sum() - sales["units"].sum()) == 0
        truth = world.truth["products"]["orgs"][ORG]["totals"]
        units = sum(t["units"] for t in truth.values())
        refunds = sum(t["refunds"] for t in truth.values())
        print(f"sales vs truth.json: units {int(sales['units'].sum()):,} / {units:,}, refunds "
              f"{sales['refunds'].sum():,.2f} / {refunds:,.2f}")  # fmt: skip
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        walls = []
        for _ in range(max(1, args.runs // 2)):
            t = time.perf_counter()
            events = list(causal.AnalyzeProducts(causal_pb.AnalyzeProductsRequest(org_id=ORG)))
            walls.append(time.perf_counter() - t)
        result = events[-1].result
        stages = ", ".join(f"{s.stage} {s.seconds:.2f}s" for s in result.stage_timings)
        print(f"\nAnalyzeProducts over gRPC: median {statistics.median(walls):.2f}s "
              f"({len(walls)} runs; server: {stages}); {len(result.products)} products, "
              f"{len(result.cells)} cells, {len(result.pairs)} pairs")  # fmt: skip
        inc = world.truth["products"]["orgs"][ORG]["incremental"]
        covered = [
            c.incremental_revenue.lower
            <= inc[c.channel]["categories"][c.category]["incremental_revenue"]
            <= c.incremental_revenue.upper
            for c in result.cells if c.spend.amount > 0
        ]  # fmt: skip
        print(f"cells whose 90% interval holds the truth: {sum(covered)}/{len(covered)}")
        figure(f"AnalyzeProducts over gRPC, {args.days} days, median of {len(walls)}",
               statistics.median(walls), "s",
               note=f"{sum(covered)}/{len(covered)} cells' 90% intervals hold the truth")  # fmt: skip


if __name__ == "__main__":
    main()
