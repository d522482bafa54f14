"""Memory at 10M records in one org: the server's peak RSS, Search p50/p99 over gRPC against
the same org at 1M in the same run, and recall@10 against exact search, beside the
uncompressed index's.

    python bench/memory_10m.py                                   # 1M, 3M, 10M (~1 h here)
    python bench/memory_10m.py --checkpoints 200000,2500000 --deadline-min 20

Records are synthetic causal marketing rows (mesh.runtime.synthetic_records: 50 campaigns ×
100 geos a day) produced by one process as length-delimited WriteRequests and stored by
``python -m memory_svc.bulk_import`` (the Write RPC's code, one 10,000-record message per
transaction) into one SQLite store: the org grows from checkpoint to checkpoint. At each
checkpoint a real memory server (``python -m memory_svc``) starts on the store: it loads the
saved index (uncompressed IVFFlat below 2M vectors — the service as it was at 1M — IVF with
4-bit PQ fast-scan codes re-ranked from the store above), builds its id map, and answers
unfiltered vector Searches over gRPC; its peak RSS is /proc's VmHWM of that process after
loading and searching. Queries are stored vectors of the first checkpoint nudged off
themselves (noise ≈ 0.3 of the norm); exact top-10 is brute force over every stored vector,
kept up to date checkpoint by checkpoint (records are only inserted). The uncompressed
index's recall at a compressed checkpoint is computed, not run (10M float vectors are 10 GB):
an IVFFlat with the same lists and nprobe returns exactly the true neighbours that lie in the
probed lists, so its recall@10 is the share of the exact top 10 assigned to those lists.
``--deadline-min`` stops importing at a message boundary in time to measure, and the last
checkpoint is then the size reached (the script says so).
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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import grpc
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from liftos.v1 import memory_pb2 as memory_pb  # noqa: E402
from liftos.v1 import memory_pb2_grpc as memory_grpc  # noqa: E402

from bench._figures import figure  # noqa: E402
from memory_svc.bulk_import import delimited  # noqa: E402
from memory_svc.faiss_index import _file_stem  # noqa: E402
from mesh.runtime.synthetic_records import synthetic_records  # noqa: E402

ORG = "bench"
CAMPAIGNS, GEOS = 50, 100  # 5,000 records a day
BATCH = 10_000  # records per message: two days
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}


# ------------------------------------------------------------------------- producer


def produce(start: int, stop: int, until: float) -> None:
    """Write messages for records [start, stop) to stdout (start on a message boundary);
    stop early, between messages, once the clock passes ``until``."""
    out = sys.stdout.buffer
    for chunk in range(start // BATCH, -(-stop // BATCH)):
        if time.time() > until:
            break
        n = min(BATCH, stop - chunk * BATCH)
        records = synthetic_records(ORG, n, seed=chunk, campaigns=CAMPAIGNS, geos=GEOS,
                                    start=dt.date(1990, 1, 1) + dt.timedelta(days=2 * chunk))  # fmt: skip
        out.write(
            delimited(memory_pb.WriteRequest(org_id=ORG, records=records).SerializeToString())
        )
    out.flush()


def import_to(data: Path, have: int, want: int, until: float) -> tuple[int, float]:
    """Records ``have`` → ``want`` through the bulk importer; (records stored, seconds)."""
    t = time.perf_counter()
    producer = subprocess.Popen(
        [sys.executable, __file__, "--produce", f"{have},{want},{until}"],
        stdout=subprocess.PIPE, env=ENV,
    )  # fmt: skip
    log = (data / "import.log").open("a")
    importer = subprocess.run(
        [sys.executable, "-m", "memory_svc.bulk_import", "--data-dir", str(data), "-",
         "--every", "50"],
        stdin=producer.stdout, stdout=subprocess.PIPE, stderr=log, env=ENV, cwd=ROOT, text=True,
    )  # fmt: skip
    producer.wait()
    if importer.returncode != 0 or producer.returncode != 0:
        raise RuntimeError(f"import failed ({importer.returncode}): {importer.stdout}")
    stored = int(re.search(r"([\d,]+) inserted", importer.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    print(f"  import: {importer.stdout.strip()}", flush=True)
    return stored, time.perf_counter() - t


# --------------------------------------------------------------------------- server


class Server:
    """``python -m memory_svc`` on the data dir; address parsed from its log."""

    def __init__(self, data: Path) -> None:
        t = time.perf_counter()
        self.log_path = data / "server.log"
        self._log = self.log_path.open("a")
        start = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "memory_svc", "--port", "0", "--data-dir", str(data)],
            cwd=ROOT, env=ENV, stderr=self._log, text=True,
        )  # fmt: skip
        while True:
            text = self.log_path.read_text()[start:]
            if found := re.search(r"serving .* on [\d.]+:(\d+)", text):
                self.address = f"127.0.0.1:{found.group(1)}"
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + text[-2000:])
            time.sleep(0.1)
        self.ready_s = time.perf_counter() - t

    def rss_mib(self, key: str = "VmHWM") -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(900)
        self._log.close()


# ---------------------------------------------------------------------------- exact


def _db(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data / 'memory' / 'memory.sqlite'}?mode=ro", uri=True)


def pages(data: Path, after: int, dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    db = _db(data)
    try:
        while True:
            rows = db.execute(
                "SELECT r.seq, v.embedding FROM records r JOIN vectors v ON v.seq = r.seq "
                "WHERE r.org_id = ? AND r.seq > ? ORDER BY r.seq LIMIT 100000",
                (ORG, after),
            ).fetchall()
            if not rows:
                return
            seqs = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            yield seqs, np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, dim)
            after = int(seqs[-1])
    finally:
        db.close()


class Exact:
    """Exact top-k of fixed queries over every stored vector, updated with new records."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries, self.k = queries, k
        self.scores = np.full((len(queries), k), -np.inf, np.float32)
        self.seqs = np.full((len(queries), k), -1, np.int64)
        self.last = 0

    def update(self, data: Path, dim: int) -> None:
        for seqs, vectors in pages(data, self.last, dim):
            s = self.queries @ vectors.T  # (q, page)
            top = np.argpartition(-s, self.k - 1, axis=1)[:, : self.k]
            both_s = np.hstack([self.scores, np.take_along_axis(s, top, 1)])
            both_q = np.hstack([self.seqs, seqs[top]])
            keep = np.argsort(-both_s, axis=1, kind="stable")[:, : self.k]
            self.scores = np.take_along_axis(both_s, keep, 1)
            self.seqs = np.take_along_axis(both_q, keep, 1)
            self.last = int(seqs[-1])

    def ids(self, data: Path) -> list[set[str]]:
        db = _db(data)
        try:
            out = []
            for row in self.seqs.tolist():
                got = db.execute(
                    f"SELECT id FROM records WHERE seq IN ({','.join('?' * len(row))})", row
                ).fetchall()
                out.append({r[0] for r in got})
            return out
        finally:
            db.close()


def pick_queries(data: Path, n: int, dim: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    want = np.sort(rng.choice(count, size=n, replace=False))
    chosen, seen = [], 0
    for _, vectors in pages(data, 0, dim):
        lo, hi = np.searchsorted(want, [seen, seen + len(vectors)])
        chosen.append(vectors[want[lo:hi] - seen])
        seen += len(vectors)
    base = np.vstack(chosen)
    q = base + rng.normal(0, 0.3 / np.sqrt(dim), base.shape).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def ivfflat_recall(data: Path, exact: Exact, dim: int) -> tuple[str, float | None]:
    """(index kind, recall@k of an IVFFlat with the saved index's lists and nprobe)."""
    import json

    stem = data / "memory" / "index" / _file_stem(ORG)
    meta = json.loads(stem.with_suffix(".json").read_text())
    if not meta.get("compressed"):
        return f"IVFFlat ({meta['kind']}), uncompressed", None
    index: Any = faiss.read_index(str(stem.with_suffix(".faiss")), faiss.IO_FLAG_MMAP)
    quantizer = faiss.downcast_index(index.quantizer)
    nprobe = 8  # the service's default (IndexSettings.nprobe)
    _, probed = quantizer.search(exact.queries, nprobe)
    db = _db(data)
    hits = 0
    try:
        for q, row in enumerate(exact.seqs.tolist()):
            blobs = db.execute(
                f"SELECT embedding FROM vectors WHERE seq IN ({','.join('?' * len(row))})", row
            ).fetchall()
            vectors = np.frombuffer(b"".join(b[0] for b in blobs), np.float32).reshape(-1, dim)
            _, lists = quantizer.search(vectors, 1)
            hits += int(np.isin(lists[:, 0], probed[q]).sum())
    finally:
        db.close()
    kind = f"IVF{index.nlist},{type(index).__name__} (codes {index.code_size} B)"
    return kind, hits / exact.seqs.size


# ---------------------------------------------------------------------------- measure


def measure(
    stores: list[tuple[Path, list[set[str]]]], exact: Exact, searches: int
) -> list[dict[str, Any]]:
    """Start a server on each store (one after another: RSS after load is each one's), then
    time the same Searches against all of them interleaved, so the machine's load (shared
    here) weighs on each alike; recall of each against its store's exact top-k."""
    dim = exact.queries.shape[1]
    servers: list[Server] = []
    rows: list[dict[str, Any]] = []
    try:
        for data, _ in stores:
            servers.append(Server(data))
            rows.append(
                {"ready_s": servers[-1].ready_s, "rss_loaded": servers[-1].rss_mib("VmRSS")}
            )
        channels = [grpc.insecure_channel(s.address) for s in servers]
        stubs = [memory_grpc.MemoryServiceStub(c) for c in channels]
        times: list[list[float]] = [[] for _ in servers]
        recall: list[list[float]] = [[] for _ in servers]
        for j, stub in enumerate(stubs):
            first = stub.Search(memory_pb.SearchRequest(org_id=ORG, text="warm up", k=10))
            rows[j]["records"] = float(first.index_size)
        for i in range(searches):
            q = exact.queries[i % len(exact.queries)]
            request = memory_pb.SearchRequest(
                org_id=ORG, vector=memory_pb.Vector(values=q.tolist()), k=exact.k
            )
            for j, stub in enumerate(stubs):
                t = time.perf_counter()
                reply = stub.Search(request, timeout=60)
                times[j].append(time.perf_counter() - t)
                if i < len(exact.queries):
                    got = {h.record_id for h in reply.hits}
                    recall[j].append(len(got & stores[j][1][i]) / exact.k)
        for j, server in enumerate(servers):
            rows[j]["rss_peak"] = server.rss_mib()
        for c in channels:
            c.close()
    finally:
        for server in servers:
            server.stop()
    for j, (data, _) in enumerate(stores):
        kind, flat_recall = ivfflat_recall(data, exact, dim) if j == len(stores) - 1 else ("", None)
        ms = np.asarray(times[j][len(exact.queries) // 10 :]) * 1e3  # the first tenth warms up
        rows[j].update({
            "index": kind, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "recall": float(np.mean(recall[j])),
            "flat_recall": -1.0 if flat_recall is None else flat_recall,
        })  # fmt: skip
    return rows


def _line(row: dict[str, Any]) -> str:
    return (f"{int(row['records']):,} records [{row['index']}]: server ready in "
            f"{row['ready_s']:.0f}s, RSS after load {row['rss_loaded']:,.0f} MiB, "
            f"peak {row['rss_peak']:,.0f} MiB; Search p50 {row['p50']:.2f} ms, "
            f"p99 {row['p99']:.2f} ms; recall@10 {row['recall']:.3f}"
            + (f" (uncompressed IVFFlat, same lists: {row['flat_recall']:.3f})"
               if row["flat_recall"] >= 0 else ""))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--produce", help=argparse.SUPPRESS)
    ap.add_argument("--checkpoints", default="1000000,3000000,10000000")
    ap.add_argument("--queries", type=int, default=200, help="recall queries (exact top-10)")
    ap.add_argument("--searches", type=int, default=600, help="timed Searches per checkpoint")
    ap.add_argument("--deadline-min", type=float, default=0, help="stop importing after this")
    ap.add_argument("--data-dir", type=Path, default=None, help="kept afterwards")
    ap.add_argument("--measure-only", action="store_true",
                    help="no import: measure --data-dir beside its -ref copy again")  # fmt: skip
    ap.add_argument("--compress-threshold", type=int, default=0,
                    help="vectors above which an org's index is compressed (servers' "
                         "LIFTOS_MEMORY_COMPRESS_THRESHOLD; default: memory's 2M), so that a "
                         "small run still compares the compressed index with the uncompressed")  # fmt: skip
    args = ap.parse_args()
    if args.compress_threshold:
        ENV["LIFTOS_MEMORY_COMPRESS_THRESHOLD"] = str(args.compress_threshold)
    if args.produce:
        start, stop, until = args.produce.split(",")
        produce(int(start), int(stop), float(until))
        return
    data = args.data_dir or Path(f"/tmp/liftos-memory-10m-{os.getpid()}")
    data.mkdir(parents=True, exist_ok=True)
    marks = [int(c) for c in args.checkpoints.split(",")]
    t0 = time.time()
    until = t0 + args.deadline_min * 60 if args.deadline_min else float("inf")
    print(f"data dir {data}; checkpoints {marks}; {args.queries} recall queries, "
          f"{args.searches} timed Searches each", flush=True)  # fmt: skip
    have, exact, ref, rows = 0, None, None, []
    if args.measure_only:
        ref_dir = data.with_name(data.name + "-ref")
        dim = int(_db(data).execute("SELECT dim FROM orgs WHERE org_id = ?", (ORG,)).fetchone()[0])
        count = _db(ref_dir).execute("SELECT record_count FROM orgs").fetchone()[0]
        exact = Exact(pick_queries(ref_dir, args.queries, dim, count), 10)
        exact.update(ref_dir, dim)
        ref_truth = exact.ids(ref_dir)
        exact.update(data, dim)
        got = measure([(ref_dir, ref_truth), (data, exact.ids(data))], exact, args.searches)
        for row in got:
            print(f"  {_line(row)}", flush=True)
        ref_row, last = got
        print(
            f"ratios: peak RSS ×{last['rss_peak'] / ref_row['rss_peak']:.2f}, Search p50 "
            f"×{last['p50'] / ref_row['p50']:.2f}, p99 ×{last['p99'] / ref_row['p99']:.2f}"
        )
        return
    for mark in marks:
        stored, seconds = import_to(data, have, mark, until)
        have += stored
        print(f"{have:,} records stored (+{stored:,} in {seconds:.0f}s, "
              f"{stored / max(seconds, 1e-9):,.0f} records/s)", flush=True)  # fmt: skip
        dim = int(_db(data).execute("SELECT dim FROM orgs WHERE org_id = ?", (ORG,)).fetchone()[0])
        if exact is None:
            exact = Exact(pick_queries(data, args.queries, dim, have), 10)
        t = time.perf_counter()
        exact.update(data, dim)
        print(f"  exact top-10 brought up to date in {time.perf_counter() - t:.0f}s", flush=True)
        truth = exact.ids(data)
        if ref is None:
            # the reference: a copy of the store at the first checkpoint, measured again
            # beside every later one
            ref = (data.with_name(data.name + "-ref"), truth)
            shutil.rmtree(ref[0], ignore_errors=True)
            shutil.copytree(data, ref[0])
            got = measure([(data, truth)], exact, args.searches)
        else:
            got = measure([ref, (data, truth)], exact, args.searches)
            got[0]["index"] = "reference, re-measured beside"
        for row in got:
            print(f"  {_line(row)}", flush=True)
        rows.append((got[0], got[-1]))
        if have < mark:
            print(f"  deadline reached at {have:,} of {mark:,} records: the last checkpoint is "
                  f"{have:,}", flush=True)  # fmt: skip
            break
    print(
        f"\nafter {(time.time() - t0) / 60:.0f} min; each size against the reference "
        "measured in the same interleaved round:"
    )
    for ref_row, row in rows:
        print(f"{int(row['records']):>12,}: peak RSS {row['rss_peak'] / 1024:5.2f} GiB "
              f"(×{row['rss_peak'] / ref_row['rss_peak']:.2f}), Search p50 {row['p50']:6.2f} ms "
              f"(×{row['p50'] / ref_row['p50']:.2f}), p99 {row['p99']:6.2f} ms "
              f"(×{row['p99'] / ref_row['p99']:.2f}), recall@10 {row['recall']:.3f}")  # fmt: skip
    ref_row, last = rows[-1]
    ok = (last["rss_peak"] <= 4096, last["p50"] <= 2 * ref_row["p50"], last["recall"] >= 0.95)
    n = f"{int(last['records']):,} records"
    ref_name = f"{int(ref_row['records']):,}-record"  # 1M at the default checkpoints
    figure(f"memory server peak RSS, {n}", last["rss_peak"] / 1024, "GiB",
           reference=f"{ref_name} reference server", reference_value=ref_row["rss_peak"] / 1024,
           target="≤ 4 GiB", met=ok[0])  # fmt: skip
    figure(f"Search p50 over gRPC, {n}", last["p50"], "ms",
           reference=f"{ref_name} reference, same interleaved round", reference_value=ref_row["p50"],
           target=f"≤ 2× the {ref_name} reference", met=ok[1])  # fmt: skip
    figure(f"Search recall@10 vs exact, {n}", last["recall"], "",
           reference="IVFFlat on the same lists" if last["flat_recall"] >= 0 else "",
           reference_value=last["flat_recall"] if last["flat_recall"] >= 0 else None,
           target="≥ 0.95", met=ok[2])  # fmt: skip
    print(f"targets at {int(last['records']):,}: peak RSS ≤ 4 GiB {'met' if ok[0] else 'MISSED'}"
          f", p50 ≤ 2× the {int(ref_row['records']):,} reference {'met' if ok[1] else 'MISSED'}, "
          f"recall@10 ≥ 0.95 {'met' if ok[2] else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
