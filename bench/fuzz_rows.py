"""Fuzzed raw rows through real Ingest: mutants of real export lines (``sim.raw.mutate``) mixed
with clean rows, streamed over gRPC on loopback to ingestion and memory server processes.

Every connector gets its share of the mutants (200,000 by default), 200 a batch beside 50
clean rows, one Ingest stream per org (each org gets every clean row of its source once). A
row is never its batch's failure, so every batch should be acked OK; a stream that fails all
the same is recorded under its status code and resumed after the batch it failed on.

Prints batches by status code, rejected rows by reason and by field, mutants accepted and
rejected by mutation kind, clean rows stored in memory (read back with Scan) against sent,
broken promises (a row neither accepted nor rejected with a field and a reason, a clean row
rejected), and throughput: rows and MB of JSON per second from the first request to the
last ack, i.e. to durable in memory, and its ratio to the rate of the clean rows alone on
the same path (measured first, in the same run).

Then the four product sources (Shopify orders and catalogue, Google Ads shopping, Meta
product rows) of a simulated products world (``tests/fuzz/product_rows.py``), ``--product-mutants``
of them (default a fifth of ``--mutants``; 0: off), 200 a batch beside up to 50 clean rows,
the first batch of each source with its product edges (timestamps before 1970, price ×
quantity past the money cap, ids twice). Each batch goes to its own org, its clean rows
alone to another: the same promises per row, and every cell memory's AggregateProducts
holds for the clean-only org must be held for the fuzzed one. Figures of their own; the
campaign figures above are unchanged.

Run: ``OPENBLAS_NUM_THREADS=1 python bench/fuzz_rows.py [--mutants 200000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench._figures import figure  # noqa: E402

MUTANTS_PER_BATCH = 200
CLEAN_PER_BATCH = 50
PULLED = dt.datetime(2025, 1, 13, 9, tzinfo=dt.UTC)  # the morning after the demo world


def dumps(row: Any) -> str:
    return json.dumps(row, separators=(",", ":"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Run:
    """One source's batches, made on demand (seeded by source and index), and the tally."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.codes: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.fields: Counter[str] = Counter()
        self.kinds: Counter[tuple[str, str]] = Counter()
        self.rows = self.mutants = self.clean = self.bytes = 0
        self.broken: list[str] = []
        self.sent: dict[str, set[str]] = {}  # org -> natural keys of the clean rows sent
        self.reference_run = (0, 1.0)

    def batch(self, c: Any, index: int) -> tuple[str, Any, int]:
        """(org, batch, row offset in its org's stream) of a source's index-th batch."""
        from sim.raw.mutate import Batch, mutate

        per_round = len(c.clean) // CLEAN_PER_BATCH
        rnd, k = divmod(index, per_round)
        rng = random.Random(f"{self.seed}/{c.source}/{index}")
        picked: list[tuple[str, Any, int | None]] = []
        for _ in range(MUTANTS_PER_BATCH):
            m = mutate(rng.choice(c.mutable), rng)
            picked.append((m.line, m, None))
        for g in range(k * CLEAN_PER_BATCH, (k + 1) * CLEAN_PER_BATCH):
            picked.append((dumps(c.clean[g]), None, g))
        rng.shuffle(picked)
        out = Batch([p[0] for p in picked], [p[1] for p in picked], [p[2] for p in picked])
        return f"fuzz-{c.source}-{rnd}", out, k * (MUTANTS_PER_BATCH + CLEAN_PER_BATCH)

    def stream(self, stub: Any, c: Any, indexes: list[int]) -> None:
        """One org's batches on Ingest streams; a failed stream is counted and resumed
        after the batch it failed on."""
        import grpc

        from tests.ingestion.fuzzing import request

        pending = list(indexes)
        while pending:
            made: dict[int, Any] = {}

            def requests(todo: list[int] = pending, made: dict[int, Any] = made) -> Iterator[Any]:
                for index in todo:
                    org, b, offset = self.batch(c, index)
                    made[index] = b
                    self.bytes += sum(len(line) for line in b.lines)
                    self.sent.setdefault(org, set()).update(
                        c.keys[g] for g in b.good if g is not None
                    )
                    yield request(c, b.lines, f"b{index}", org=org, pulled=PULLED, offset=offset)

            done = 0
            try:
                for ack in stub.Ingest(requests(), timeout=3600):
                    self.count(made[pending[done]], ack)
                    done += 1
                pending = []
            except grpc.RpcError as err:
                self.codes[err.code().name] += 1
                failed = pending[done]
                self.rows += len(made[failed].lines) if failed in made else 0
                self.broken.append(f"{c.source} batch {failed}: {err.code().name} {err.details()}")
                pending = pending[done + 1 :]

    def count(self, b: Any, ack: Any) -> None:
        from liftos.v1 import ingestion_pb2 as ingestion_pb

        from tests.ingestion.fuzzing import broken_promises

        self.codes["OK"] += 1
        self.rows += len(b.lines)
        self.mutants += sum(m is not None for m in b.mutants)
        self.clean += sum(g is not None for g in b.good)
        name = ingestion_pb.RejectionReason.Name
        rejections = [
            (
                r.row_index,
                r.field,
                name(r.reason).removeprefix("REJECTION_REASON_").lower(),
                r.message,
            )
            for r in ack.rejections
        ]
        self.broken += broken_promises(b, ack.accepted_count, rejections)
        for _, field, reason, _ in rejections:
            self.reasons[reason] += 1
            self.fields[field if len(field) < 48 else field[:45] + "..."] += 1
        rejected = {r[0] for r in rejections}
        for row, m in enumerate(b.mutants):
            if m is not None:
                self.kinds[m.kind, "rejected" if row in rejected else "accepted"] += 1

    def reference(self, stub: Any, corpora: dict[str, Any]) -> tuple[int, float]:
        """(rows, seconds) of every source's clean rows alone, 250 a batch, on the same
        path: the rate the fuzzed run is compared with."""
        from tests.ingestion.fuzzing import request

        size = MUTANTS_PER_BATCH + CLEAN_PER_BATCH
        rows = 0
        start = time.perf_counter()
        for source, c in corpora.items():
            lines = [dumps(r) for r in c.clean]
            requests = [
                request(
                    c, lines[k : k + size], f"r{k}", org=f"ref-{source}", pulled=PULLED, offset=k
                )
                for k in range(0, len(lines), size)
            ]
            for ack in stub.Ingest(iter(requests), timeout=3600):
                rows += ack.accepted_count + ack.rejected_count
        return rows, time.perf_counter() - start

    def report(self, seconds: float, stored: int, sent: int) -> None:
        print(
            f"rows: {self.rows:,} ({self.mutants:,} mutated, {self.clean:,} clean) in "
            f"{sum(self.codes.values()):,} batches"
        )
        print("batches by status code: " + ", ".join(f"{k} {v:,}" for k, v in self.codes.items()))
        print(f"rejected rows by reason ({sum(self.reasons.values()):,}):")
        for reason, count in self.reasons.most_common():
            print(f"  {reason:<28} {count:>9,}")
        print("rejected rows by field (top 15):")
        for field, count in self.fields.most_common(15):
            print(f"  {field:<48} {count:>9,}")
        print("mutants by kind: accepted / rejected")
        for kind in sorted({k for k, _ in self.kinds}):
            accepted, rejected = self.kinds[kind, "accepted"], self.kinds[kind, "rejected"]
            print(f"  {kind:<16} {accepted:>8,} / {rejected:>8,}")
        print(f"clean rows stored in memory: {stored:,} of {sent:,} sent")
        print(f"broken promises: {len(self.broken)}")
        for line in self.broken[:10]:
            print("  " + line[:300])
        print(
            f"throughput: {self.rows / seconds:,.0f} rows/s, {self.bytes / seconds / 2**20:.1f} "
            f"MB/s of JSON ({seconds:.1f}s from the first request to the last durable ack)"
        )
        rows, took = self.reference_run
        print(
            f"reference, clean rows only on the same path: {rows / took:,.0f} rows/s ({rows:,} "
            f"rows, {took:.1f}s); ratio fuzzed / clean = {self.rows / seconds / (rows / took):.2f}"
        )
        figure(f"fuzzed Ingest over gRPC, {self.mutants:,} mutants + {self.clean:,} clean rows",
               self.rows / seconds, "rows/s", reference="clean rows only, same path",
               reference_value=rows / took)  # fmt: skip
        figure("fuzzed Ingest: broken promises (row neither accepted nor rejected with a "
               "field and reason, clean row rejected, failed batch)", len(self.broken), "",
               target="0", met=not self.broken)  # fmt: skip
        figure("fuzzed Ingest: clean rows stored in memory", stored, "rows",
               reference="clean rows sent", reference_value=sent, target="all",
               met=stored == sent)  # fmt: skip


def product_pass(ingestion: Any, memory: Any, mutants: int, seed: int) -> None:
    """The product sources' mutants through Ingest; prints and records their figures."""
    import grpc
    from liftos.v1 import ingestion_pb2 as ingestion_pb
    from liftos.v1 import memory_pb2 as memory_pb

    from tests.fuzz import product_rows
    from tests.ingestion.fuzzing import broken_promises

    t = time.perf_counter()
    corpora = product_rows.corpora(product_rows.world(seed=3, days=100))
    print(
        f"\nproduct sources: the products world (seed 3, 100 days), {time.perf_counter() - t:.0f}s"
    )
    batches = max(1, -(-mutants // (len(corpora) * MUTANTS_PER_BATCH)))
    codes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()
    broken: list[str] = []
    lost: list[str] = []
    rows = sent_cells = 0
    start_s = time.perf_counter()
    name = ingestion_pb.RejectionReason.Name
    for source, c in corpora.items():
        clean = max(1, min(CLEAN_PER_BATCH, len(c.clean)))
        for i in range(batches):
            b = product_rows.batch(c, seed, i, MUTANTS_PER_BATCH, clean, edges=i == 0)
            org, alone = f"pfuzz-{source}-{i}", f"pclean-{source}-{i}"
            rows += len(b.lines)
            try:
                (ack,) = ingestion.Ingest(iter([product_rows.request(c, b.lines, "b", org=org)]), timeout=600)  # fmt: skip
            except grpc.RpcError as err:
                codes[err.code().name] += 1
                broken.append(f"{source} batch {i}: {err.code().name} {err.details()}")
                continue
            codes["OK"] += 1
            rejections = [(r.row_index, r.field, name(r.reason).removeprefix("REJECTION_REASON_").lower(), r.message) for r in ack.rejections]  # fmt: skip
            broken += [f"{source} batch {i}: {p}" for p in broken_promises(b, ack.accepted_count, rejections)]  # fmt: skip
            rejected = {r[0] for r in rejections}
            for _, _, reason, _ in rejections:
                reasons[reason] += 1
            for row, m in enumerate(b.mutants):
                if m is not None:
                    kinds[f"{source}:{m.kind}", "rejected" if row in rejected else "accepted"] += 1
            lines = [line for line, g in zip(b.lines, b.good, strict=True) if g is not None]
            (clean_ack,) = ingestion.Ingest(
                iter([product_rows.request(c, lines, "c", org=alone)]), timeout=600
            )
            if clean_ack.accepted_count != len(lines):
                broken.append(
                    f"{source} batch {i}: clean rows alone: {clean_ack.accepted_count} of {len(lines)} accepted"
                )
            replies = [memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=o), timeout=600)
                       for o in (org, alone)]  # fmt: skip
            sent_cells += sum(len(v) for v in product_rows.cells(replies[1]).values())
            lost += [f"{source} batch {i}: {m}" for m in product_rows.missing(*replies)]
    seconds = time.perf_counter() - start_s
    print(f"product rows: {rows:,} in {sum(codes.values()):,} batches ({batches} per source), {seconds:.1f}s "
          "(each batch also sent clean-only and both read back)")  # fmt: skip
    print("product batches by status code: " + ", ".join(f"{k} {v:,}" for k, v in codes.items()))
    print(
        "product rows rejected by reason: "
        + ", ".join(f"{k} {v:,}" for k, v in reasons.most_common())
    )
    print("product mutants by source:kind: accepted / rejected")
    for kind in sorted({k for k, _ in kinds}):
        print(f"  {kind:<40} {kinds[kind, 'accepted']:>8,} / {kinds[kind, 'rejected']:>8,}")
    print(f"product broken promises: {len(broken)}; clean cells missing in memory: {len(lost)}")
    for line in (broken + lost)[:10]:
        print("  " + line[:300])
    figure("fuzzed product Ingest: broken promises (row neither accepted nor rejected with a "
           "field and reason, clean row rejected, failed batch)", len(broken), "",
           target="0", met=not broken, note=f"{rows:,} rows, 4 product sources")  # fmt: skip
    figure("fuzzed product Ingest: batches whose clean rows' AggregateProducts cells are not all "
           "held", len(lost), "", target="0", met=not lost,
           note=f"{sent_cells:,} clean cells")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--product-mutants", type=int, default=None,
                        help="mutants over the 4 product sources (default: --mutants / 5; 0: off)")  # fmt: skip
    args = parser.parse_args()

    import grpc
    from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
    from liftos.v1 import memory_pb2 as memory_pb
    from liftos.v1 import memory_pb2_grpc as memory_grpc

    import sim
    from mesh.cli.processes import Mesh
    from mesh.runtime.config import PeerConfig
    from mesh.sdk.client import LiftOS
    from tests.ingestion.fuzzing import SOURCES, corpus

    t = time.perf_counter()
    world = sim.simulate("demo", seed=1)
    corpora = {s: corpus(world, s) for s in SOURCES}
    print(
        f"corpus: the demo world (seed 1), {time.perf_counter() - t:.0f}s; clean / mutable rows: "
        + ", ".join(f"{s} {len(c.clean):,} / {len(c.mutable):,}" for s, c in corpora.items())
    )
    run = Run(args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="liftos-fuzz-bench-"))
    ports = {"ingestion": _free_port(), "memory": _free_port()}
    mesh = Mesh(
        scratch / "mesh", ports=ports, services=("memory", "ingestion"), log_level="WARNING"
    )
    mesh.start()
    options = [("grpc.max_send_message_length", 64 * 2**20)]
    try:
        with LiftOS(PeerConfig(**{s: mesh.address(s) for s in mesh.ports})) as probe:
            status = mesh.wait_serving(probe.health)
        if any(status.get(s) != "SERVING" for s in mesh.services):
            raise SystemExit(f"mesh did not come up: {status}")
        stub = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(mesh.address("ingestion"), options=options)
        )
        run.reference_run = run.reference(stub, corpora)
        batches = -(-args.mutants // (len(SOURCES) * MUTANTS_PER_BATCH))  # per source
        start = time.perf_counter()
        for source in SOURCES:
            c = corpora[source]
            per_round = len(c.clean) // CLEAN_PER_BATCH
            for first in range(0, batches, per_round):
                run.stream(stub, c, list(range(first, min(first + per_round, batches))))
        seconds = time.perf_counter() - start
        memory = memory_grpc.MemoryServiceStub(
            grpc.insecure_channel(mesh.address("memory"), options=options)
        )
        stored = sent = 0
        for org, keys in run.sent.items():
            found = {
                r.natural_key
                for reply in memory.Scan(memory_pb.ScanRequest(org_id=org), timeout=600)
                for r in reply.records
            }
            sent += len(keys)
            stored += len(keys & found)
        run.report(seconds, stored, sent)
        product_mutants = (
            args.mutants // 5 if args.product_mutants is None else args.product_mutants
        )
        if product_mutants > 0:
            product_pass(stub, memory, product_mutants, args.seed)
    finally:
        mesh.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
