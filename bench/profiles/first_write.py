"""The first Write's latency after memory starts: what the Ingest profile's 48k-row run showed
as ~21% of the memory server's CPU, the scikit-learn import the default (hashing) embedder
needs, paid by the first write unless the server makes its embedder at start.

Starts ``python -m memory_svc`` from a source tree (this one, or ``--before TREE``, e.g. a
``git worktree`` of an older commit, run with the same interpreter), waits for it to serve and
then ``--idle`` seconds (the demo simulates and registers before its first Ingest), sends one
WriteRequest of ingest-shaped records (``bench/memory_write.py``'s) and times the ack; trees
interleaved, each run a fresh process and data dir.

    PYTHONPATH=.:gen .venv/bin/python bench/profiles/first_write.py --before /tmp/wt [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "gen"), str(ROOT / "bench")]

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from ingest_throughput import _free_port, generate  # noqa: E402
from liftos.v1 import memory_pb2 as memory_pb  # noqa: E402
from liftos.v1 import memory_pb2_grpc as memory_grpc  # noqa: E402
from memory_write import build_requests, load_requests  # noqa: E402


def first_write(tree: Path, request: bytes, idle: float) -> float:
    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="liftos-fw-"))
    env = {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'gen'}"}
    cmd = [sys.executable, "-m", "memory_svc", "--port", str(port), "--data-dir", str(data)]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stderr=subprocess.DEVNULL)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 60
        while True:
            try:
                health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        time.sleep(idle)
        stub = memory_grpc.MemoryServiceStub(channel)
        message = memory_pb.WriteRequest.FromString(request)
        t0 = time.perf_counter()
        stub.Write(iter([message]), timeout=120)
        return time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, required=True, help="source tree of the old code")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", type=float, default=3.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp)
        generate(world, 28, 10, 0)
        build_requests(world, 1000, world / "requests.bin")
        request = load_requests(world / "requests.bin")[0]
        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.runs):
            for label, tree in (("before", args.before), ("after", ROOT)):
                times[label].append(first_write(tree, request, args.idle))
    n = memory_pb.WriteRequest.FromString(request).records
    for label, ts in times.items():
        print(f"{label:6s}: first Write of {len(n):,} records acked in median "
              f"{statistics.median(ts) * 1000:,.0f} ms ({', '.join(f'{t * 1000:,.0f}' for t in ts)})")  # fmt: skip
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"after / before: {a / b:.2f}")


if __name__ == "__main__":
    main()
