"""Memory on PostgreSQL beside SQLite, in one run: Write throughput and Search p50/p99 over
gRPC on each store, then a kill -9 of memory during a WriteStream on PostgreSQL and a check
that no acknowledged row was lost, then two memory processes on one database: the delay
from a write acked by one to the record being searchable through the other.

    python bench/memory_postgres.py                      # 100k records: a few minutes on 2 cores
    python bench/memory_postgres.py --records 1000000    # the issue's size (much longer here)

Both stores are durable as configured for production: SQLite WAL with synchronous=FULL,
PostgreSQL (a throwaway cluster started here: initdb in a temp dir, pg_ctl on a free port,
fsync on) with synchronous_commit on. The service runs as its own process
(``python -m memory_svc --store …``); the same pre-serialised WriteRequests (synthetic
records, ``--batch`` per message, as ingestion sends them) go to each store through one
WriteStream, the clock stopping at the last ack. Searches are the same queries on both:
unfiltered by vector (answered from FAISS and the in-memory id map: no store access, a
reference the store should not move), filtered (candidates and vectors read from the
store) and with records (payloads read from the store).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen"), str(ROOT / "bench")]

from liftos.v1 import memory_pb2 as memory_pb  # noqa: E402
from liftos.v1 import memory_pb2_grpc as memory_grpc  # noqa: E402
from memory_search import ORG, pct, requests  # noqa: E402

from bench._figures import figure  # noqa: E402
from memory_svc.postgres.cluster import ThrowawayCluster  # noqa: E402


class Server:
    """``python -m memory_svc --store URL`` in its own process, log to a file."""

    def __init__(self, data: Path, store: str) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.log_path = data / "server.log"
        self._log = self.log_path.open("a")
        args = [sys.executable, "-m", "memory_svc", "--port", "0", "--data-dir", str(data)]
        if store:
            args += ["--store", store]
        start = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"},
            stderr=self._log,
            text=True,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            text = self.log_path.read_text()[start:]
            if found := re.search(r"serving .* on [\d.]+:(\d+)", text):
                self.address = f"127.0.0.1:{found.group(1)}"
                return
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + text[-2000:])
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(600)
        self._log.close()


def _channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20)])


def ingest(server: Server, payloads: list[bytes]) -> tuple[int, float]:
    """Every message through one WriteStream; (records acked, seconds to the last ack)."""
    with _channel(server.address) as channel:
        stream = channel.stream_stream(
            "/liftos.v1.MemoryService/WriteStream",
            request_serializer=lambda b: b,
            response_deserializer=memory_pb.WriteStreamResponse.FromString,
        )
        t0 = time.perf_counter()
        acked = sum(r.inserted_count for r in stream(iter(payloads), timeout=7200))
        return acked, time.perf_counter() - t0


def searches(server: Server, queries: np.ndarray, k: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"unfiltered": [], "filtered": [], "with records": []}
    with _channel(server.address) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        stub.Search(memory_pb.SearchRequest(org_id=ORG, text="warm up", k=k), timeout=60)
        for q in queries[:20]:
            stub.Search(memory_pb.SearchRequest(org_id=ORG, vector=memory_pb.Vector(values=q), k=k))
        f = memory_pb.SearchFilter(campaign_ids=["c3"], geos=["US-NY", "US-CA-3"])
        for q in queries:
            vector = memory_pb.Vector(values=q)
            for name, request in (
                ("unfiltered", memory_pb.SearchRequest(org_id=ORG, vector=vector, k=k)),
                ("filtered", memory_pb.SearchRequest(org_id=ORG, vector=vector, k=k, filter=f)),
                ("with records", memory_pb.SearchRequest(
                    org_id=ORG, vector=vector, k=k, include_records=True)),
            ):  # fmt: skip
                t = time.perf_counter()
                stub.Search(request, timeout=60)
                times[name].append(time.perf_counter() - t)
    return times


def kill_during_ingest(cluster: ThrowawayCluster, data: Path, payloads: list[bytes]) -> None:
    """Stream to a new database, SIGKILL memory after some acks, restart, count what is left."""
    url = cluster.create_database("killed")
    server = Server(data, url)
    sent_ids = [[r.id for r in memory_pb.WriteRequest.FromString(p).records] for p in payloads]
    acked: list[int] = []  # message numbers answered
    with _channel(server.address) as channel:
        stream = channel.stream_stream(
            "/liftos.v1.MemoryService/WriteStream",
            request_serializer=lambda b: b,
            response_deserializer=memory_pb.WriteStreamResponse.FromString,
        )

        def answers() -> None:
            try:
                for i, _ in enumerate(stream(iter(payloads), timeout=600)):
                    acked.append(i)
                    if i == len(payloads) // 3:  # mid-ingest, with messages in flight
                        server.kill()
            except grpc.RpcError:
                pass  # the server died mid-stream

        answers()
    acked_ids = {rid for i in acked for rid in sent_ids[i]}
    restarted = Server(data, url)
    with _channel(restarted.address) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        stored: set[str] = set()
        total = 0
        for batch in stub.Scan(memory_pb.ScanRequest(org_id=ORG, batch_size=5000), timeout=600):
            total += len(batch.records)
            stored.update(r.id for r in batch.records)
        lost = acked_ids - stored
        index = stub.Search(memory_pb.SearchRequest(org_id=ORG, text="x", k=1)).index_size
    restarted.stop()
    print(
        f"kill -9 during ingest on PostgreSQL: {len(acked)} of {len(payloads)} messages acked "
        f"({len(acked_ids):,} records) before the kill; after restart {total:,} stored "
        f"({total - len(acked_ids):,} from messages committed but not yet acked), "
        f"{len(lost)} acked records lost, duplicates {total - len(stored)}, "
        f"index {index:,} = store {total:,}: {'OK' if not lost and index == total else 'FAIL'}"
    )
    figure("acked records lost after kill -9 of memory mid-WriteStream (PostgreSQL)", len(lost),
           "records", target="0", met=not lost, note=f"{len(acked_ids):,} acked")  # fmt: skip


def replicas_follow(cluster: ThrowawayCluster, root: Path, payloads: list[bytes]) -> None:
    """Two memory processes on one database (LIFTOS_MEMORY_FOLLOW_S=0.2), writes alternating
    between them: how long until a write acked by one is searchable through the other."""
    url = cluster.create_database("replicas")
    os.environ["LIFTOS_MEMORY_FOLLOW_S"] = "0.2"
    try:
        servers = [Server(root / "a", url), Server(root / "b", url)]
    finally:
        del os.environ["LIFTOS_MEMORY_FOLLOW_S"]
    delays, total = [], 0
    try:
        channels = [_channel(s.address) for s in servers]
        stubs = [memory_grpc.MemoryServiceStub(c) for c in channels]
        for i, payload in enumerate(payloads):
            writer, reader = stubs[i % 2], stubs[1 - i % 2]
            write = writer.Write.with_call  # one message per call, as ingestion sends
            request = memory_pb.WriteRequest.FromString(payload)
            reply, _ = write(iter([request]), timeout=600)
            total = reply.org_record_count
            t0 = time.perf_counter()
            while True:
                try:
                    got = reader.Search(
                        memory_pb.SearchRequest(org_id=ORG, text="x", k=1), timeout=60
                    ).index_size
                except grpc.RpcError:
                    got = 0  # the org is not followed yet
                if got >= total:
                    break
                time.sleep(0.005)
            delays.append(time.perf_counter() - t0)
        for c in channels:
            c.close()
    finally:
        for s in servers:
            s.stop()
    print(f"two memory processes on one PostgreSQL (follow every 0.2 s), {len(payloads)} "
          f"writes alternating: acked through one → searchable through the other p50 "
          f"{pct(delays, 50):.0f} ms, p99 {pct(delays, 99):.0f} ms, max {max(delays) * 1e3:.0f} ms "
          f"({total:,} records)")  # fmt: skip
    figure("two memory processes on one PostgreSQL: acked → searchable on the other, p50",
           pct(delays, 50), "ms", note=f"p99 {pct(delays, 99):.0f} ms; follow every 0.2 s")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    t = time.perf_counter()
    payloads = [r.SerializeToString() for r in requests(args.records, args.batch)]
    print(f"{args.records:,} records in {len(payloads)} messages of {args.batch} "
          f"(generated in {time.perf_counter() - t:.0f}s, not timed)")  # fmt: skip
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(args.queries, 256)).astype(np.float32)
    with (
        tempfile.TemporaryDirectory(prefix="liftos-memory-pg-") as tmp,
        ThrowawayCluster(durable=True) as cluster,
    ):
        url = cluster.create_database("bench")
        results = {}
        for name, store in (("SQLite", ""), ("PostgreSQL", url)):
            data = Path(tmp) / name
            server = Server(data, store)
            n, seconds = ingest(server, payloads)
            rss = server.peak_rss_mib()
            server.stop()  # graceful: the index is saved, so the restart below loads it
            server = Server(data, store)
            times = searches(server, queries, args.k)
            server.stop()
            results[name] = (n / seconds, times)
            print(f"{name:<10} Write: {n:,} records in {seconds:.1f}s = {n / seconds:,.0f} rows/s, "
                  f"server peak RSS {rss:,.0f} MiB")  # fmt: skip
            for kind, ts in times.items():
                print(f"{name:<10} Search {kind:<12}: p50 {pct(ts, 50):7.2f} ms, "
                      f"p99 {pct(ts, 99):7.2f} ms ({len(ts)} queries)")  # fmt: skip
        lite, pg = results["SQLite"], results["PostgreSQL"]
        print(f"PostgreSQL / SQLite: Write rate {pg[0] / lite[0]:.2f}×; Search p50 "
              + ", ".join(f"{kind} {pct(pg[1][kind], 50) / pct(lite[1][kind], 50):.2f}×"
                          for kind in lite[1]))  # fmt: skip
        figure(f"PostgreSQL Write over gRPC, {args.records:,} records", pg[0], "records/s",
               reference="SQLite, same run", reference_value=lite[0])  # fmt: skip
        for kind in lite[1]:
            figure(f"PostgreSQL Search p50 ({kind})", pct(pg[1][kind], 50), "ms",
                   reference="SQLite, same run", reference_value=pct(lite[1][kind], 50))  # fmt: skip
        kill_during_ingest(cluster, Path(tmp) / "killed", payloads[:60])
        replicas_follow(cluster, Path(tmp) / "replicas", payloads[:40])


if __name__ == "__main__":
    main()
