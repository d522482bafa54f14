"""Memory's side of Ingest in one process, without gRPC: the WriteStream messages ingestion
sends for a simulated world are decoded and stored through the engine exactly as
``MemoryService.WriteStream`` does (``convert.write_batch``, then group commits of up to
``GROUP_TARGET`` messages through ``GroupCommit``'s rules), and the CPU each part took is
printed per record. A steadier view of memory's cost than the gRPC bench on a shared machine
(one process, no event loop or network), for comparing two trees.

    PYTHONPATH=.:gen .venv/bin/python bench/profiles/memory_write_path.py --world DIR \
        [--messages FILE] [--cprofile OUT.pstats] [--keep-store DIR]

``--world`` is an ``ingest_throughput.py --keep`` world; the encoded messages are cached in
``--messages`` (default ``DIR/messages.bin``) so that later runs time memory alone.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import resource
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "gen"), str(ROOT / "bench")]

ORG = "bench"


def encode(world: Path, out: Path) -> int:
    """Every batch's records as the WriteStream message ingestion sends (length-prefixed)."""
    from ingest_throughput import transformed

    from mesh.runtime.frames.wire import write_request_wire

    n = 0
    with out.open("wb") as f:
        for _, result in transformed(world):
            if len(result.records):
                message = write_request_wire(ORG, result.records)
                f.write(struct.pack("<I", len(message)))
                f.write(message)
                n += 1
    return n


def messages(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while head := f.read(4):
            (size,) = struct.unpack("<I", head)
            yield f.read(size)


def _thread_cpu(tid: int | None) -> float:
    """User + system CPU seconds of one of this process's threads (0 when it is gone)."""
    try:
        stat = Path(f"/proc/self/task/{tid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class GcClock:
    """CPU seconds spent in the cyclic garbage collector, per generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._t = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.thread_time()
        else:
            self.seconds[info["generation"]] += time.thread_time() - self._t
            self.counts[info["generation"]] += 1


def store_all(path: Path, data: Path) -> dict[str, Any]:
    """Decode and store every message; CPU seconds of each part."""
    from liftos.v1 import memory_pb2 as memory_pb

    from memory_svc import convert
    from memory_svc.engine import MemoryEngine, MemorySettings
    from memory_svc.faiss_index import IndexManager
    from memory_svc.sqlite_store import SQLiteRecordStore
    from memory_svc.write_group import GROUP_TARGET, WriteGroup

    settings = MemorySettings()
    store = SQLiteRecordStore(data / "memory.sqlite")
    engine = MemoryEngine(store, IndexManager(data / "index", settings.index, store), settings)
    engine.embedder(settings.embedder)  # the embedder made before the clock starts
    decode_s = write_s = 0.0
    records = 0
    clock = GcClock()
    checkpoint_start = _thread_cpu(store._checkpointer.native_id)
    start_cpu, start = _cpu(), time.perf_counter()

    def flush(group: WriteGroup[convert.WriteBatch]) -> None:
        nonlocal write_s
        t = time.thread_time()
        engine.write_group(
            group.org_id,
            group.frame(),
            group.given_vectors(),
            convert.serialiser(group.records()),
            group.parts(),
        )
        write_s += time.thread_time() - t

    group: WriteGroup[convert.WriteBatch] | None = None
    for message in messages(path):
        t = time.thread_time()
        batch = convert.write_batch(memory_pb.WriteStreamRequest.FromString(message), ORG)
        decode_s += time.thread_time() - t
        records += len(batch.records)
        if group is not None and len(group) < GROUP_TARGET and group.admits(batch):
            group.add(batch)
            continue
        if group is not None:
            flush(group)
        group = WriteGroup(batch)
    if group is not None:
        flush(group)
    total_cpu, wall = _cpu() - start_cpu, time.perf_counter() - start
    checkpoint_s = _thread_cpu(store._checkpointer.native_id) - checkpoint_start
    gc.callbacks.remove(clock)
    engine.close()
    return {"records": records, "decode_s": decode_s, "write_s": write_s,
            "process_cpu_s": total_cpu, "wall_s": wall, "gc_s": sum(clock.seconds),
            "gc_by_generation_s": clock.seconds, "checkpoint_s": checkpoint_s,
            "gc_counts": clock.counts}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", type=Path, required=True)
    ap.add_argument("--messages", type=Path, default=None)
    ap.add_argument("--cprofile", type=Path, default=None)
    ap.add_argument("--keep-store", dest="keep_store", type=Path, default=None)
    args = ap.parse_args()
    path = args.messages or args.world / "messages.bin"
    if not path.exists():
        t = time.perf_counter()
        print(f"encoded {encode(args.world, path):,} messages in {time.perf_counter() - t:.0f}s")
    data = args.keep_store or Path(tempfile.mkdtemp(prefix="liftos-memory-write-"))
    try:
        profiler = cProfile.Profile() if args.cprofile else None
        if profiler is not None:
            profiler.enable()
        r = store_all(path, data)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
    finally:
        if args.keep_store is None:
            shutil.rmtree(data, ignore_errors=True)
    n = r["records"]
    print(
        f"{n:,} records: CPU µs/record decode {r['decode_s'] / n * 1e6:.1f}, write (writer "
        f"thread) {r['write_s'] / n * 1e6:.1f}, whole process {r['process_cpu_s'] / n * 1e6:.1f}; "
        f"gc {r['gc_s'] / n * 1e6:.1f} (collections by generation {r['gc_counts']}, s "
        f"{[round(x, 2) for x in r['gc_by_generation_s']]}); checkpointer thread "
        f"{r['checkpoint_s'] / n * 1e6:.1f}; "
        f"wall {r['wall_s']:.1f}s"
    )


if __name__ == "__main__":
    main()
