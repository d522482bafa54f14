"""Memory Write throughput on the records ingestion produces, in process and over gRPC.

    python bench/memory_write.py [--world DIR] [--records 200000] [--profile]

The records are what ``Ingest`` sends to memory: simulator exports (``--world``, e.g. the
``--keep`` folder of ``bench/ingest_throughput.py``; otherwise a small world is generated)
run through the ingestion pipeline and ``mesh.runtime.frames.frame_to_records``, one WriteRequest
per ingest batch (≤ 1,000 records), cached as bytes beside the world.

Timed, each in a fresh process:

* reference: protobuf parse + serialise of every request (the wire floor);
* engine: what the Write handler does per request — parse, ``convert.write_batch``,
  ``MemoryEngine.write`` (commit included) — with no gRPC;
* gRPC: ``python -m memory_svc`` as its own process, one Write stream per request as the
  ingestion service sends them (``--streams`` of them concurrently), requests pre-serialised
  so the client costs next to nothing; the clock stops at the last ack.

``--profile`` prints the engine run's cProfile (top 35 by cumulative time).

``--sums on,none`` times the engine with and without what each commit does for
AggregateRecords (``on``: a ``measures`` row per record and the two sums tables updated, as
served; ``measures``: the rows but no sums; ``none``: neither), ``--repeat`` times each,
interleaved, in fresh processes: the cost of keeping the sums, measured in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# The exports, their batching and the RSS probe are ingest_throughput's (same folder).
from ingest_throughput import BATCH, ROOT, SOURCES, peak_rss_mb

from bench._figures import figure


def build_requests(world: Path, total: int, out: Path) -> None:
    """Ingest-shaped WriteRequests for the first ``total`` records, length-prefixed."""
    import datetime as dt

    from liftos.v1 import memory_pb2 as memory_pb

    from ingestion_svc.external_factors import FactorTable
    from ingestion_svc.history import StreamHistory
    from ingestion_svc.parse import parse_json_rows
    from ingestion_svc.pipeline import finish, prepare
    from ingestion_svc.raw_batch import Account, RawBatch
    from mesh.runtime.frames import frame_to_records

    manifest = json.loads((world / "manifest.json").read_text())
    last = dt.date.fromisoformat(manifest["start"]) + dt.timedelta(days=manifest["days"])
    pulled = dt.datetime.combine(last, dt.time(9), dt.UTC)
    accounts: dict[str, dict] = {}  # type: ignore[type-arg]
    for a in json.loads((world / "accounts.json").read_text()):
        accounts.setdefault(a["source"], a)
    written = 0
    with out.open("wb") as handle:
        for source in SOURCES:
            a = accounts[source]
            account = Account(a["account_id"], a["timezone"], a["currency"], "US", a["geo_keys"])
            history = StreamHistory()
            lines = (world / f"{source}.ndjson").read_text().splitlines()
            for offset in range(0, len(lines), BATCH):
                chunk = lines[offset : offset + BATCH]
                parsed, raw, rejected = parse_json_rows(chunk)
                batch = RawBatch("bench", source, f"b{offset}", parsed, raw, account, pulled,
                                 offset, parse_rejections=rejected)  # fmt: skip
                result = finish(prepare(batch), history, [], FactorTable.empty(), pulled)
                history.add(result.history_rows)
                records = frame_to_records(result.records)[: total - written]
                if not records:
                    continue
                data = memory_pb.WriteRequest(org_id="bench", records=records).SerializeToString()
                handle.write(struct.pack("<I", len(data)) + data)
                written += len(records)
                if written >= total:
                    return


def load_requests(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from("<I", data, at)
        out.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return out


def reference(path: Path) -> dict[str, float]:
    from liftos.v1 import memory_pb2 as memory_pb

    requests = load_requests(path)
    start = time.perf_counter()
    n = 0
    for data in requests:
        r = memory_pb.WriteRequest.FromString(data)
        n += len(r.records)
        r.SerializeToString()
    return {"records": n, "seconds": time.perf_counter() - start}


def _without_sums(variant: str) -> None:
    """Switch off (in this process) what commits do for AggregateRecords: ``measures`` keeps
    the measures rows but not the sums tables, ``none`` drops both."""
    from memory_svc import sqlite_commit

    if variant in ("measures", "none"):
        sqlite_commit._add_sums = lambda *a, **k: None  # type: ignore[assignment]
    if variant == "none":
        sqlite_commit._add_measures = lambda *a, **k: None  # type: ignore[assignment]
        sqlite_commit._take_away = lambda *a, **k: None  # type: ignore[assignment]


def _sums_clock() -> list[float]:
    """CPU seconds inside the commits' measures and sums work, from now on (this process)."""
    from memory_svc import sqlite_commit

    spent = [0.0]

    def timed(f):  # type: ignore[no-untyped-def]
        def run(*a, **k):  # type: ignore[no-untyped-def]
            t = time.process_time()
            try:
                return f(*a, **k)
            finally:
                spent[0] += time.process_time() - t

        return run

    for name in ("_add_measures", "_take_away"):
        setattr(sqlite_commit, name, timed(getattr(sqlite_commit, name)))
    return spent


def engine(path: Path, profile: bool, sums: str = "on") -> dict[str, float]:
    """The Write handler's work per request, no gRPC (``MemoryService.write_one``)."""
    from liftos.v1 import memory_pb2 as memory_pb

    _without_sums(sums)
    sums_cpu = _sums_clock()
    from memory_svc import convert
    from memory_svc.app import open_engine
    from mesh.runtime.config import PeerConfig, ServerConfig

    requests = load_requests(path)
    data_dir = Path(tempfile.mkdtemp(prefix="liftos-memory-write-"))
    try:
        config = ServerConfig("memory", "127.0.0.1", 0, data_dir, PeerConfig.from_env())
        eng = open_engine(config)
        prof = cProfile.Profile() if profile else None
        n = 0
        start, cpu = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        for data in requests:
            request = memory_pb.WriteRequest.FromString(data)
            batch = convert.write_batch(request, None)
            eng.write(
                batch.org_id, batch.frame, batch.given_vectors, convert.serialiser(batch.records)
            )
            n += len(batch.records)
        if prof:
            prof.disable()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        eng.close()
        if prof:
            stats = pstats.Stats(prof, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(25)
        return {"records": n, "seconds": seconds, "cpu": cpu, "sums_cpu": sums_cpu[0],
                "peak_rss_mb": peak_rss_mb()}  # fmt: skip
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def over_grpc(path: Path, streams: int) -> dict[str, float]:
    import grpc
    from liftos.v1 import memory_pb2 as memory_pb

    requests = load_requests(path)
    data_dir = Path(tempfile.mkdtemp(prefix="liftos-memory-write-"))
    log_path = data_dir / "server.log"
    log = log_path.open("w")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memory_svc", "--port", "0", "--data-dir", str(data_dir)],
        cwd=ROOT, env=env, stderr=log, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (found := re.search(r"serving .* on [\d.]+:(\d+)", log_path.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start:\n" + log_path.read_text()[-2000:])
            time.sleep(0.05)
        channel = grpc.insecure_channel(
            f"127.0.0.1:{found.group(1)}", options=[("grpc.max_send_message_length", 64 << 20)]
        )
        write = channel.stream_unary(
            "/liftos.v1.MemoryService/Write",
            request_serializer=lambda b: b,
            response_deserializer=memory_pb.WriteResponse.FromString,
        )
        count = [0]
        lock = threading.Lock()
        queue = list(reversed(requests))

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    data = queue.pop()
                reply = write(iter([data]), timeout=600)
                with lock:
                    count[0] += reply.inserted_count + reply.replaced_count + reply.unchanged_count

        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(streams)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]
        channel.close()
    finally:
        proc.terminate()
        proc.wait(600)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"records": count[0], "seconds": seconds, "peak_rss_mb": hwm}


def _worker(*args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    out = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True,
                         env=env, check=False)  # fmt: skip
    if out.returncode:
        raise SystemExit(f"{args[0]} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", type=Path, default=None)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--streams", type=int, default=1, help="concurrent Write streams (gRPC)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: engine,grpc")
    ap.add_argument(
        "--sums", default="on", help="comma list of engine variants: on (as served), measures, none"
    )
    ap.add_argument("--repeat", type=int, default=1, help="engine runs per --sums variant")
    ap.add_argument("--part", nargs=2, metavar=("PART", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        part, file = args.part[0], Path(args.part[1])
        if part == "reference":
            print(json.dumps(reference(file)))
        elif part == "engine":
            print(json.dumps(engine(file, args.profile, args.sums)))
        else:
            print(json.dumps(over_grpc(file, args.streams)))
        return
    scratch = Path(tempfile.mkdtemp(prefix="liftos-memory-write-world-"))
    try:
        world = args.world
        if world is None:
            import sim

            world = scratch / "world"
            sim.write(sim.simulate("large", seed=0, days=28, n_campaigns=40), world)
        cache = world / f"write_requests_{args.records}.bin"
        if not cache.exists():
            t = time.perf_counter()
            build_requests(world, args.records, cache)
            print(f"built requests in {time.perf_counter() - t:.0f}s → {cache}")
        ref = _worker("--part", "reference", str(cache))
        rate_ref = ref["records"] / ref["seconds"]
        print(f"reference protobuf parse+serialise: {rate_ref:>10,.0f} records/s "
              f"({ref['records']:,} records)")  # fmt: skip
        skip = set(args.skip.split(","))
        flags = ["--profile"] if args.profile else []
        variants = args.sums.split(",")
        rates: dict[str, list[float]] = {v: [] for v in variants}
        cpus: dict[str, list[float]] = {v: [] for v in variants}  # µs of CPU per record
        for _ in range(args.repeat if "engine" not in skip else 0):
            for variant in variants:
                eng = _worker("--part", "engine", str(cache), "--sums", variant, *flags)
                rate = eng["records"] / eng["seconds"]
                rates[variant].append(rate)
                cpus[variant].append(eng["cpu"] / eng["records"] * 1e6)
                print(f"engine (no gRPC), sums {variant:8s}: {rate:>10,.0f} records/s "
                      f"({eng['seconds']:.1f}s, CPU {cpus[variant][-1]:.0f} µs/record of which "
                      f"measures+sums {eng['sums_cpu'] / eng['records'] * 1e6:.1f}, "
                      f"peak RSS {eng['peak_rss_mb']:,.0f} MB; "
                      f"{rate / rate_ref:.3f} of the reference)")  # fmt: skip
        if rates[variants[0]]:
            figure(f"memory Write in process (engine, sums {variants[0]}), {ref['records']:,} records",
                   float(np.median(rates[variants[0]])), "records/s",
                   reference="protobuf parse+serialise", reference_value=rate_ref)  # fmt: skip
        if len(variants) > 1 and args.repeat and "engine" not in skip:
            base = float(np.median(rates[variants[0]]))
            base_cpu = float(np.median(cpus[variants[0]]))
            for variant, got in rates.items():
                med, cpu = float(np.median(got)), float(np.median(cpus[variant]))
                print(f"  sums {variant:8s} median {med:>10,.0f} records/s "
                      f"(range {min(got):,.0f}-{max(got):,.0f}; {med / base:.2f}x {variants[0]}); "
                      f"CPU {cpu:.0f} µs/record (range {min(cpus[variant]):.0f}-"
                      f"{max(cpus[variant]):.0f}; {cpu / base_cpu:.2f}x)")  # fmt: skip
        if "grpc" not in skip:
            g = _worker("--part", "grpc", str(cache), "--streams", str(args.streams))
            rate = g["records"] / g["seconds"]
            print(f"gRPC Write, {args.streams} stream(s) at a time : {rate:>10,.0f} records/s "
                  f"({g['seconds']:.1f}s, server peak RSS {g['peak_rss_mb']:,.0f} MB; "
                  f"{rate / rate_ref:.3f} of the reference)")  # fmt: skip
            figure(f"memory Write over gRPC, {args.streams} stream(s), {g['records']:,} records",
                   rate, "records/s", reference="protobuf parse+serialise",
                   reference_value=rate_ref, note=f"server peak RSS {g['peak_rss_mb']:,.0f} MB")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
