"""Memory service at scale: Write rows/s, Search p50/p99 over gRPC against a direct FAISS
call on the same index in the same run, recall@10 against exact search, restart and rebuild
times, peak RSS.

    python bench/memory_search.py                 # 1M records (a few minutes on 2 cores)
    python bench/memory_search.py --records 200000 --queries 300

The records are synthetic causal marketing rows (mesh.runtime.synthetic_records: campaign × geo × day
with campaign-level spend, a geo experiment and holiday confounders) embedded by the service
itself, so the vectors have the structure real embeddings have rather than random Gaussians.
The service runs as its own process (``python -m memory_svc``); the bench process is the
client and also loads the index file the service saved to time FAISS directly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from liftos.v1 import memory_pb2 as memory_pb  # noqa: E402
from liftos.v1 import memory_pb2_grpc as memory_grpc  # noqa: E402

from bench._figures import figure  # noqa: E402
from memory_svc.app import settings_from_env  # noqa: E402
from memory_svc.faiss_index import _file_stem  # noqa: E402
from mesh.runtime.synthetic_records import synthetic_records  # noqa: E402

ORG = "bench"
CAMPAIGNS, GEOS = 50, 100  # 5,000 records a day


class Server:
    """The memory service in its own process; address parsed from its startup log."""

    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.started = time.perf_counter()
        # The log goes to a file, not a pipe: a reader thread in this process would compete
        # with the client for the GIL on every logged call.
        self.log_path = data / "server.log"
        data.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "memory_svc", "--port", "0", "--data-dir", str(data)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", **(env or {})},
            stderr=self._log_file,
            text=True,
        )
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            found = re.search(r"serving .* on [\d.]+:(\d+)", self.log_path.read_text())
            if found:
                self.address = f"127.0.0.1:{found.group(1)}"
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log_path.read_text()[-2000:])
            time.sleep(0.05)
        else:
            raise RuntimeError("server did not start")
        self.ready_s = time.perf_counter() - self.started

    @property
    def log(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(600)
        self._log_file.close()


def requests(total: int, batch: int) -> Iterator[memory_pb.WriteRequest]:
    per_day = CAMPAIGNS * GEOS
    chunk_days = max(1, batch // per_day) if batch >= per_day else 1
    start = dt.date(2023, 1, 1)
    sent = 0
    chunk = 0
    while sent < total:
        n = min(chunk_days * per_day, total - sent)
        records = synthetic_records(
            ORG,
            n,
            seed=chunk,
            campaigns=CAMPAIGNS,
            geos=GEOS,
            start=start + dt.timedelta(days=chunk * chunk_days),
        )
        for i in range(0, n, batch):
            yield memory_pb.WriteRequest(org_id=ORG, records=records[i : i + batch])
        sent += n
        chunk += 1


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--data-dir", type=Path, default=None, help="kept afterwards when given")
    ap.add_argument(
        "--reuse", action="store_true", help="skip Write when --data-dir already holds the org"
    )
    ap.add_argument("--skip-rebuild", action="store_true")
    args = ap.parse_args()
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="liftos-memory-bench-"))
    print(f"data dir {data}; {args.records:,} records, batches of {args.batch}")

    # ---------------------------------------------------------------- Write
    server = Server(data)
    if args.reuse and (data / "memory" / "memory.sqlite").exists():
        print("reusing the stored org (no Write)")
    else:
        write(server, args)
    server.stop()  # graceful: saves the index
    search_and_rebuild(data, args)


def write(server: Server, args: argparse.Namespace) -> None:
    with grpc.insecure_channel(
        server.address, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        t0 = time.perf_counter()
        response = stub.Write(requests(args.records, args.batch), timeout=7200)
        write_s = time.perf_counter() - t0
    print(
        f"Write: {response.inserted_count:,} records in {write_s:.1f}s = "
        f"{response.inserted_count / write_s:,.0f} rows/s (client generation included); "
        f"server peak RSS {server.peak_rss_mib():,.0f} MiB"
    )


def search_and_rebuild(data: Path, args: argparse.Namespace) -> None:
    # ---------------------------------------------------------- restart (load)
    server = Server(data)
    loaded = [line.strip() for line in server.log if "index bench" in line]
    print(
        f"restart with saved index: serving after {server.ready_s:.1f}s ({loaded[-1].split(': ', 1)[-1] if loaded else '?'})"
    )

    db = sqlite3.connect(f"file:{data / 'memory' / 'memory.sqlite'}?mode=ro", uri=True)
    n = db.execute("SELECT record_count FROM orgs WHERE org_id = ?", (ORG,)).fetchone()[0]
    dim = db.execute("SELECT dim FROM orgs WHERE org_id = ?", (ORG,)).fetchone()[0]
    rng = np.random.default_rng(0)
    seqs = db.execute("SELECT seq FROM records WHERE org_id = ?", (ORG,)).fetchall()
    all_seqs = np.array([s[0] for s in seqs], dtype=np.int64)
    pick = rng.choice(all_seqs, size=args.queries, replace=False)
    rows = dict(
        db.execute(
            f"SELECT seq, embedding FROM vectors WHERE seq IN ({','.join('?' * len(pick))})",
            pick.tolist(),
        ).fetchall()
    )
    base = np.stack([np.frombuffer(rows[int(s)], np.float32) for s in pick])
    # queries: stored records nudged off themselves (noise norm ≈ 0.3 of the unit vector)
    queries = base + rng.normal(0, 0.3 / np.sqrt(dim), size=base.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    # ------------------------------------------------------- Search: gRPC vs FAISS
    index = faiss.read_index(str(data / "memory" / "index" / f"{_file_stem(ORG)}.faiss"))
    kind = type(index).__name__
    if hasattr(index, "nprobe"):
        index.nprobe = settings_from_env().index.nprobe  # as the server runs it
    faiss_t, faiss_ids = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None], args.k)
        faiss_t.append(time.perf_counter() - t)
        faiss_ids.append(ids[0])
    grpc_t, grpc_hits = [], []
    with grpc.insecure_channel(server.address) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        for q in queries[:20]:  # warm-up
            stub.Search(
                memory_pb.SearchRequest(org_id=ORG, vector=memory_pb.Vector(values=q), k=args.k)
            )
        # the embedder is built by the first text query (vector queries never need it)
        stub.Search(memory_pb.SearchRequest(org_id=ORG, text="warm up", k=args.k), timeout=30)
        for q in queries:
            request = memory_pb.SearchRequest(
                org_id=ORG, vector=memory_pb.Vector(values=q), k=args.k
            )
            t = time.perf_counter()
            r = stub.Search(request, timeout=30)
            grpc_t.append(time.perf_counter() - t)
            grpc_hits.append([h.record_id for h in r.hits])
        health = health_pb2_grpc.HealthStub(channel)
        floor_t = []
        for _ in range(args.queries):
            t = time.perf_counter()
            health.Check(health_pb2.HealthCheckRequest(), timeout=30)
            floor_t.append(time.perf_counter() - t)
        text_t = []
        for text in ["black friday retargeting", "klaviyo email winback", "tiktok spark ads"] * 30:
            t = time.perf_counter()
            stub.Search(memory_pb.SearchRequest(org_id=ORG, text=text, k=args.k), timeout=30)
            text_t.append(time.perf_counter() - t)
        filt_t = []
        for q in queries[:100]:
            f = memory_pb.SearchFilter(campaign_ids=["c3"], geos=["US-NY", "US-CA-3"])
            t = time.perf_counter()
            stub.Search(
                memory_pb.SearchRequest(
                    org_id=ORG, vector=memory_pb.Vector(values=q), k=args.k, filter=f
                ),
                timeout=30,
            )
            filt_t.append(time.perf_counter() - t)
        broad_t = []
        for q in queries[:100]:
            f = memory_pb.SearchFilter(min_quality_score=0.6)
            t = time.perf_counter()
            stub.Search(
                memory_pb.SearchRequest(
                    org_id=ORG, vector=memory_pb.Vector(values=q), k=args.k, filter=f
                ),
                timeout=30,
            )
            broad_t.append(time.perf_counter() - t)
    server_rss = server.peak_rss_mib()
    server.stop()

    # --------------------------------------------------------- recall vs exact
    ids_of = dict(db.execute("SELECT seq, id FROM records WHERE org_id = ?", (ORG,)).fetchall())
    exact = faiss.IndexFlatIP(dim)
    page = 100_000
    order = []
    for i in range(0, len(all_seqs), page):
        part = np.sort(all_seqs)[i : i + page]
        blobs = db.execute(
            "SELECT seq, embedding FROM vectors WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (int(part[0]), int(part[-1])),
        ).fetchall()
        order.extend(s for s, _ in blobs)
        exact.add(np.frombuffer(b"".join(b for _, b in blobs), np.float32).reshape(len(blobs), dim))
    order_arr = np.array(order)
    _, truth = exact.search(queries, args.k)
    truth_ids = [{ids_of[int(order_arr[j])] for j in row} for row in truth]
    recall_grpc = np.mean(
        [len(set(h) & t) / args.k for h, t in zip(grpc_hits, truth_ids, strict=True)]
    )
    recall_faiss = np.mean(
        [
            len({ids_of.get(int(s)) for s in f} & t) / args.k
            for f, t in zip(faiss_ids, truth_ids, strict=True)
        ]
    )
    same = np.mean(
        [
            h == [ids_of.get(int(s)) for s in f if s >= 0]
            for h, f in zip(grpc_hits, faiss_ids, strict=True)
        ]
    )

    print(f"index: {kind}, {n:,} vectors × {dim}-d")
    print(
        f"Search k={args.k}, {args.queries} vector queries: gRPC p50 {pct(grpc_t, 50):.2f} ms "
        f"p99 {pct(grpc_t, 99):.2f} ms | direct FAISS p50 {pct(faiss_t, 50):.2f} ms "
        f"p99 {pct(faiss_t, 99):.2f} ms | ratio p50 {pct(grpc_t, 50) / pct(faiss_t, 50):.2f}x "
        f"p99 {pct(grpc_t, 99) / pct(faiss_t, 99):.2f}x"
    )
    print(
        f"gRPC floor on this machine (Health.Check round trip, same channel): "
        f"p50 {pct(floor_t, 50):.2f} ms; Search minus floor at p50: "
        f"{pct(grpc_t, 50) - pct(floor_t, 50):.2f} ms"
    )
    print(
        f"recall@{args.k} vs exact: gRPC {recall_grpc:.3f}, direct FAISS {recall_faiss:.3f}; "
        f"gRPC hits identical to direct FAISS for {same:.1%} of queries"
    )
    print(
        f"text queries (embedding included): p50 {pct(text_t, 50):.2f} ms p99 {pct(text_t, 99):.2f} ms"
    )
    print(
        f"selective filter (campaign+geo, brute force over candidates): p50 {pct(filt_t, 50):.2f} ms p99 {pct(filt_t, 99):.2f} ms"
    )
    print(
        f"broad filter (quality >= 0.6, ANN over-fetch): p50 {pct(broad_t, 50):.2f} ms p99 {pct(broad_t, 99):.2f} ms"
    )
    print(f"server peak RSS after searches: {server_rss:,.0f} MiB")
    figure(f"Search p50 over gRPC, {n:,} records, k={args.k}", pct(grpc_t, 50), "ms",
           reference="direct FAISS in process", reference_value=pct(faiss_t, 50),
           note=f"p99 {pct(grpc_t, 99):.2f} ms")  # fmt: skip
    figure("Search p50 over gRPC vs the gRPC floor", pct(grpc_t, 50), "ms",
           reference="Health.Check round trip, same channel", reference_value=pct(floor_t, 50))  # fmt: skip
    figure(f"Search recall@{args.k} over gRPC", float(recall_grpc), "",
           reference="exact search", reference_value=1.0, target="≥ 0.95",
           met=bool(recall_grpc >= 0.95))  # fmt: skip

    # ---------------------------------------------------------------- rebuild
    if args.skip_rebuild:
        return
    shutil.rmtree(data / "memory" / "index")
    server = Server(data)
    rebuilt = [line.strip() for line in server.log if "index bench" in line]
    print(
        f"rebuild from SQLite (no re-embedding): serving after {server.ready_s:.1f}s "
        f"({rebuilt[-1].split(': ', 1)[-1] if rebuilt else '?'}); peak RSS {server.peak_rss_mib():,.0f} MiB"
    )
    server.stop()
    size = sum(p.stat().st_size for p in (data / "memory").rglob("*") if p.is_file())
    print(f"on disk: {size / 2**30:.2f} GiB under {data / 'memory'}")
    if args.data_dir is None:
        shutil.rmtree(data)


if __name__ == "__main__":
    main()
