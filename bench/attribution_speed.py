"""AnalyzeAttribution end to end over gRPC (issue 15): one year × 30 campaigns × 50 geos, daily,
already in memory, warm services; the read from memory included.

The world is the simulator's ``confounded`` scenario at 50 states, 30 campaigns and 365 days,
written to a real memory service as ingestion would leave it (one record per campaign × geo ×
day, plus the first-party orders per geo × day). Memory, the registry and the causal service run
on localhost; the causal service's workers are warmed by one analysis first. Printed: the
client's wall time per analysis, the time to each streamed stage, the server's own stage
timings, and two references measured in the same run — the same analysis in-process on a panel
already in memory (no gRPC, no read), and a full Scan of the records (what the read would cost
if the records crossed the wire one by one).

Run: PYTHONPATH=.:gen python bench/attribution_speed.py [--runs 3] [--keep DIR] [--carryover-pairs N]

``--carryover-pairs N`` also times the in-process analysis with every channel geometric and
with each channel's carry-over shape left to the data, alternated N times on the same panel
(the two models' cost on a shared machine: their ratio, pair by pair).

``--keep DIR`` keeps the services' data in DIR and reuses a memory already written there by an
earlier run with the same world (the write takes minutes; the timed analyses do not read it).
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import grpc
import numpy as np
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from bench._figures import figure
from causal_svc.app import build as causal_build
from causal_svc.attribution import AdstockKind, ModelSpec, analyze
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from tests.causal.attribution.records import world_records
from tests.causal.attribution.world import frames

ORG = "speed"
BUDGET_S = 2.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--geos", type=int, default=50)
    ap.add_argument("--campaigns", type=int, default=30)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--no-scan", action="store_true", help="skip the full-Scan reference")
    ap.add_argument("--keep", type=Path, help="data dir to keep and reuse (skips the write)")
    ap.add_argument("--carryover-pairs", type=int, default=0,
                    help="time the in-process analysis geometric vs chosen carry-over, N pairs")  # fmt: skip
    args = ap.parse_args()
    world = sim.simulate("confounded", seed=0, dirt=False, n_geos=args.geos,
                         n_campaigns=args.campaigns, days=args.days)  # fmt: skip
    n_records = len(world.panel) + len(world.outcomes)
    print(f"world: {args.geos} geos x {args.days} days x {args.campaigns} campaigns: "
          f"{len(world.panel):,} platform records + {len(world.outcomes):,} first-party rows")  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_services(
            {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build},
            args.keep or Path(tmp),
        ) as services,
    ):
        data_dir = args.keep or Path(tmp)
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
        marker = (
            (args.keep / f"written-{args.geos}x{args.campaigns}x{args.days}") if args.keep else None
        )
        if marker is not None and marker.exists():
            print(f"memory reused from {args.keep} (written by an earlier run)")
        else:
            t0 = time.perf_counter()
            records = world_records(world, ORG)
            batches = iter(lambda: list(itertools.islice(records, 2000)), [])
            memory.Write((memory_pb.WriteRequest(org_id=ORG, records=b) for b in batches),
                         timeout=3600)  # fmt: skip
            print(f"written to memory in {time.perf_counter() - t0:.0f} s (setup, not timed)")
            if marker is not None:
                marker.touch()
        channel = grpc.insecure_channel(services["causal"].address,
                                        options=[("grpc.max_receive_message_length", 64 << 20)])  # fmt: skip
        stub = causal_grpc.CausalServiceStub(channel)
        wall, *_ = analysis(stub)
        print(f"warm-up analysis: {wall:.2f} s (workers start, imports)")
        runs = [analysis(stub) for _ in range(args.runs)]
        # After a write lands the org's data version changes: memory reads its sums again.
        restated = next(iter(world_records(world, ORG)))
        after_write = []
        for _ in range(args.runs):
            restated.version = time.time_ns() // 1000
            memory.Write(iter([memory_pb.WriteRequest(org_id=ORG, records=[restated])]),
                         timeout=60)  # fmt: skip
            after_write.append(analysis(stub))
        read_cold, read_warm = read_path(data_dir / "memory" / "memory.sqlite")
        # References in the same run.
        outcome, media, campaigns = frames(world)
        from causal_svc.attribution import panel_from_frames

        panel = panel_from_frames(outcome, media, campaigns=campaigns)
        t0 = time.perf_counter()
        analyze(panel, ModelSpec())
        in_process = time.perf_counter() - t0
        pairs = []
        for _ in range(args.carryover_pairs):  # alternated, so the machine's load hits both
            pair = []
            for adstock in (AdstockKind.GEOMETRIC, None):
                t0 = time.perf_counter()
                analyze(panel, ModelSpec(adstock=adstock))
                pair.append(time.perf_counter() - t0)
            pairs.append(pair)
        scanned, scan_s = 0, float("nan")
        if not args.no_scan:
            t0 = time.perf_counter()
            scanned = sum(len(b.records) for b in memory.Scan(
                memory_pb.ScanRequest(org_id=ORG, batch_size=5000), timeout=3600))  # fmt: skip
            scan_s = time.perf_counter() - t0
    walls = np.array([r[0] for r in runs])
    print(f"\nAnalyzeAttribution over gRPC, warm, {runs[0][3]:,} records: median {np.median(walls):.2f} s "
          f"(runs: {', '.join(f'{w:.2f}' for w in walls)}); budget {BUDGET_S:.1f} s: "
          f"{'met' if np.median(walls) <= BUDGET_S else 'NOT met'}")  # fmt: skip
    print("  time to each streamed stage (client, median):")
    for stage in runs[0][1]:
        print(f"    {stage:16s} {np.median([r[1][stage] for r in runs]):.2f} s")
    print("  server stage timings (median):")
    for stage in runs[0][2]:
        print(f"    {stage:24s} {np.median([r[2][stage] for r in runs]):.3f} s")
    aw = np.array([r[0] for r in after_write])
    print(f"  right after a write (memory re-reads the org's sums): median {np.median(aw):.2f} s "
          f"(runs: {', '.join(f'{w:.2f}' for w in aw)}); retrieve "
          f"{np.median([r[2]['retrieve'] for r in after_write]):.3f} s")  # fmt: skip
    print("  the read path in process, CPU per call (sums, encode, decode, panel): first "
          f"{' + '.join(f'{x:.3f}' for x in read_cold)} = {sum(read_cold):.3f} s; held "
          f"{' + '.join(f'{x:.3f}' for x in read_warm)} = {sum(read_warm):.3f} s (median of 5)")  # fmt: skip
    print(f"  reference, same run: the analysis in-process on a panel already built "
          f"{in_process:.2f} s (gRPC + read + storage add {np.median(walls) - in_process:+.2f} s)")  # fmt: skip
    figure(f"AnalyzeAttribution over gRPC, {runs[0][3]:,} records (median of {len(walls)})",
           float(np.median(walls)), "s",
           reference="the same analysis in process on a built panel", reference_value=in_process,
           target=f"≤ {BUDGET_S:.0f} s", met=bool(np.median(walls) <= BUDGET_S),
           note=f"retrieve {np.median([r[2]['retrieve'] for r in runs]):.3f} s")  # fmt: skip
    if pairs:
        g, c = np.array(pairs).T
        print(f"  in process, geometric vs chosen carry-over, {len(pairs)} alternated pairs: "
              f"median {np.median(g):.2f} s vs {np.median(c):.2f} s; chosen / geometric per "
              f"pair {', '.join(f'{x:.2f}' for x in c / g)}")  # fmt: skip
    if args.no_scan:
        return
    print(f"  reference, same run: Scan of all {scanned:,} records {scan_s:.1f} s — "
          f"{scan_s / np.median(runs[0][1]['retrieve'] or 1e-9):.0f}x the aggregated read "
          f"({n_records:,} records summed in memory)")  # fmt: skip


def read_path(db: Path) -> tuple[list[float], list[float]]:
    """CPU seconds of AnalyzeAttribution's read, in process on the bench's memory: memory's
    sums, their Table (the sums attribution asks for) and its bytes, decoding them, the panel
    — on a store of its own (its first read, then the median of 5 with the sums held)."""
    from liftos.v1 import memory_pb2

    from causal_svc.attribution import panel_from_aggregates
    from memory_svc import convert
    from memory_svc.sqlite_store import SQLiteRecordStore
    from mesh.runtime.tables import table_to_frame

    store = SQLiteRecordStore(db)

    def once() -> list[float]:
        t = [time.process_time()]
        agg = store.aggregate(ORG, None, None, ())
        t.append(time.process_time())
        wire = convert.aggregate_response(agg, ("spend", "impressions", "revenue"))
        data = wire.SerializeToString()
        t.append(time.process_time())
        reply = memory_pb2.AggregateRecordsResponse.FromString(data)
        geo, camp = table_to_frame(reply.geo_days), table_to_frame(reply.campaign_days)
        t.append(time.process_time())
        panel_from_aggregates(geo, camp)
        t.append(time.process_time())
        return [b - a for a, b in itertools.pairwise(t)]

    try:
        first = once()
        held = [once() for _ in range(5)]
    finally:
        store.close()
    return first, [float(np.median([h[i] for h in held])) for i in range(4)]


def analysis(
    stub: causal_grpc.CausalServiceStub,
) -> tuple[float, dict[str, float], dict[str, float], int]:
    """One AnalyzeAttribution: client wall time, time to each streamed stage, the server's
    stage timings and the records read."""
    start = time.perf_counter()
    marks: dict[str, float] = {}
    result = None
    for event in stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=ORG), timeout=600):
        if event.WhichOneof("event") == "progress":
            marks[event.progress.stage] = time.perf_counter() - start
        else:
            result = event.result
    wall = time.perf_counter() - start
    assert result is not None
    return wall, marks, {t.stage: t.seconds for t in result.stage_timings}, result.record_count


if __name__ == "__main__":
    main()
