"""Encoding ingestion's record batches for MemoryService.Write: column-wise wire bytes
(``mesh.runtime.frames.wire.write_request_wire``) against building the messages with
``mesh.runtime.frames.frame_to_records`` and serialising the WriteRequest (the reference, what the
ingestion service did before).

Run: ``OPENBLAS_NUM_THREADS=1 python bench/wire_encoding.py [--days 60] [--campaigns 60]``

The batches are the record frames the ingestion pipeline builds from a simulated world's raw
exports (1,000 rows each, dirt included), built once before timing. Both encodings of every
batch are checked to parse to the same request.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from ingest_throughput import BATCH, generate, transformed  # noqa: E402

from bench._figures import figure  # noqa: E402


def frames(world: Path) -> list:  # type: ignore[type-arg]
    return [result.records for _, result in transformed(world)]


def main() -> None:
    from liftos.v1 import memory_pb2 as memory_pb

    from mesh.runtime.frames import frame_to_records
    from mesh.runtime.frames.wire import write_request_wire

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--campaigns", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), args.days, args.campaigns, 0)
        batches = frames(Path(tmp))
    rows = sum(len(f) for f in batches)
    print(
        f"{len(batches)} batches of ≤ {BATCH} rows, {rows:,} records, {len(batches[0].columns)} columns"
    )

    def reference(f):  # type: ignore[no-untyped-def]
        request = memory_pb.WriteRequest(org_id="bench", records=frame_to_records(f))
        return request.SerializeToString()

    timings = {}
    for name, encode in (("frame_to_records + serialise", reference),
                         ("write_request_wire", lambda f: write_request_wire("bench", f))):  # fmt: skip
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for f in batches:
                encode(f)
            best = min(best, time.perf_counter() - start)
        timings[name] = best
        print(f"{name:30s}: {1e6 * best / rows:6.1f} µs/record  ({rows / best:,.0f} records/s)")
    for f in batches[:: max(1, len(batches) // 20)]:  # the two agree
        parse = memory_pb.WriteRequest.FromString
        assert parse(reference(f)) == parse(write_request_wire("bench", f))
    ref, wire = timings.values()
    print(
        f"ratio write_request_wire / reference time = {wire / ref:.2f} ({ref / wire:.1f}× faster)"
    )
    figure(f"encode ingest batches as WriteRequest bytes (write_request_wire), {rows:,} records",
           1e6 * wire / rows, "µs/record", reference="frame_to_records + SerializeToString",
           reference_value=1e6 * ref / rows)  # fmt: skip


if __name__ == "__main__":
    main()
