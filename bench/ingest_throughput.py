"""Ingestion throughput: raw JSON → durable ack over gRPC, against the same transform in
process without gRPC or storage, on ~1M simulator rows.

Steps (each timed part runs in its own fresh process, so its peak RSS is its own):

1. generate: ``sim.simulate("large", days=120)`` (~1.02M export lines, dirt included) written
   as NDJSON exports, as a platform pull would land on disk;
2. in-process reference: every export read, parsed and transformed batch by batch
   (``ingestion_svc.pipeline.prepare`` + ``finish``, the stream history kept in memory) —
   the work Ingest does, minus protos, gRPC and storage;
3. gRPC path: memory and ingestion started as two server processes (as ``liftos up`` runs
   them); a client process streams the exports through ``LiftOS.ingest`` (1,000 rows per
   message) and the clock stops at the last ack, i.e. once every record is durable in
   memory's SQLite.

Prints rows/s of both, their ratio (target ≥ 0.6), peak RSS of each process, and where the
gRPC path's CPU went (µs per row in each process, and how many cores were busy).

``--shuffled``: each export's lines in a seeded random order (``--seed``), the same pull sent
in that order (written once beside the exports as ``SOURCE.shuffled.ndjson``): what a
platform's unsorted export costs against the date-sorted one (a late row's history scan,
lags against a history that is not in day order).

Run: ``OPENBLAS_NUM_THREADS=1 python bench/ingest_throughput.py [--days 120] [--keep DIR]
[--shuffled]`` (``--days 28 --campaigns 40`` gives ~55k rows for a quick look).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench._figures import figure  # noqa: E402

SOURCES = ("meta", "google_ads", "klaviyo", "tiktok")
BATCH = 1000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def generate(out: Path, days: int, campaigns: int | None, seed: int) -> dict[str, int]:
    import sim

    result = sim.simulate("large", seed=seed, days=days, n_campaigns=campaigns)
    sim.write(result, out)
    return {s: len(result.raw[s]) for s in SOURCES}


def _pulled(world: Path) -> dt.datetime:
    """The exports were pulled the morning after their last day."""
    manifest = json.loads((world / "manifest.json").read_text())
    last = dt.date.fromisoformat(manifest["start"]) + dt.timedelta(days=manifest["days"])
    return dt.datetime.combine(last, dt.time(9), dt.UTC)


def _accounts(world: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    out: dict[str, dict] = {}  # type: ignore[type-arg]
    for a in json.loads((world / "accounts.json").read_text()):
        out.setdefault(a["source"], {**a, "country": "US"})
    return out


def _export(world: Path, source: str) -> Path:
    """The export of ``source`` as sent: its shuffled copy when the world dir says so (a
    ``shuffled`` marker, written by :func:`shuffle`)."""
    name = f"{source}.shuffled.ndjson" if (world / "shuffled").exists() else f"{source}.ndjson"
    return world / name


def shuffle(world: Path, out: Path, seed: int) -> None:
    """``out``: a world dir whose exports are ``world``'s in a seeded random line order (the
    manifest and accounts linked, the shuffled exports written once)."""
    import random

    out.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "accounts.json"):
        if not (out / name).exists():
            (out / name).symlink_to((world / name).resolve())
    for source in SOURCES:
        target = out / f"{source}.shuffled.ndjson"
        if target.exists():
            continue
        lines = (world / f"{source}.ndjson").read_text().splitlines()
        random.Random(f"{seed}/{source}").shuffle(lines)
        target.write_text("".join(line + "\n" for line in lines))
    (out / "shuffled").touch()


def _lines(path: Path):  # type: ignore[no-untyped-def]
    with path.open() as handle:
        for line in handle:
            yield line.rstrip("\n")


def _chunks(path: Path):  # type: ignore[no-untyped-def]
    """(row offset, lines) of BATCH lines at a time, read as they are needed."""
    chunk: list[str] = []
    offset = 0
    for line in _lines(path):
        chunk.append(line)
        if len(chunk) == BATCH:
            yield offset, chunk
            offset, chunk = offset + BATCH, []
    if chunk:
        yield offset, chunk


def transformed(world: Path):  # type: ignore[no-untyped-def]
    """(rows read, pipeline result) of every batch of every export: parse, connector,
    pipeline, history — what Ingest does before protos, gRPC and storage."""
    from ingestion_svc.external_factors import FactorTable
    from ingestion_svc.history import StreamHistory
    from ingestion_svc.parse import parse_json_rows
    from ingestion_svc.pipeline import finish, prepare
    from ingestion_svc.raw_batch import Account, RawBatch
    from mesh.runtime.frames.gc_pause import gc_paused

    accounts = _accounts(world)
    pulled = _pulled(world)
    for source in SOURCES:
        a = accounts[source]
        account = Account(a["account_id"], a["timezone"], a["currency"], "US", a["geo_keys"])
        history = StreamHistory()
        for offset, chunk in _chunks(_export(world, source)):
            # the collector paused as Ingest's worker hops pause it (ingestion_svc.stream)
            with gc_paused():
                parsed, raw, rejected = parse_json_rows(chunk)
                batch = RawBatch("bench", source, f"b{offset}", parsed, raw, account, pulled,
                                 offset, parse_rejections=rejected)  # fmt: skip
                result = finish(prepare(batch), history, [], FactorTable.empty(), pulled)
                history.add(result.history_rows)
            yield len(chunk), result


def in_process(world: Path) -> dict[str, float]:
    """The transform alone (:func:`transformed`): no protos, gRPC, storage."""
    rows = written = 0
    start = time.perf_counter()
    for n, result in transformed(world):
        rows += n
        written += len(result.records)
    seconds = time.perf_counter() - start
    return {"rows": rows, "written": written, "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
            "cpu_s": _cpu_self()}  # fmt: skip


def client(world: Path, ingestion: str, memory: str) -> dict[str, float]:
    """Stream every export through Ingest; the clock stops at the last ack."""
    from mesh.runtime.config import PeerConfig
    from mesh.sdk.client import LiftOS

    accounts = _accounts(world)
    peers = PeerConfig.from_env().with_overrides(ingestion=ingestion, memory=memory)
    rows = written = 0
    start = time.perf_counter()
    with LiftOS(peers, org_id="bench") as sdk:
        for source in SOURCES:
            summary = sdk.ingest(
                source, _lines(_export(world, source)), account=accounts[source],
                pulled_at=_pulled(world), batch_size=BATCH,
            )  # fmt: skip
            rows += summary.rows
            written += summary.written
    seconds = time.perf_counter() - start
    return {"rows": rows, "written": written, "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
            "cpu_s": _cpu_self()}  # fmt: skip


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a live process has used (/proc/PID/stat fields 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hwm_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024.0 if found else float("nan")


def _worker(mode: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    out = subprocess.run(
        [sys.executable, __file__, f"--{mode}", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def grpc_path(
    world: Path, data: Path
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    from mesh.cli.processes import Mesh
    from mesh.runtime.config import PeerConfig
    from mesh.sdk.client import LiftOS

    ports = {"ingestion": _free_port(), "memory": _free_port()}
    mesh = Mesh(data, ports=ports, services=("memory", "ingestion"), log_level="INFO")
    mesh.start()
    try:
        with LiftOS(PeerConfig(**{s: mesh.address(s) for s in mesh.ports})) as probe:
            status = mesh.wait_serving(probe.health)
        if any(status.get(s) != "SERVING" for s in mesh.services):
            raise SystemExit(f"mesh did not come up: {status}")
        idle = {s: _cpu_s(p.pid) for s, p in mesh.procs.items()}
        result = _worker("client", str(world), mesh.address("ingestion"), mesh.address("memory"))
        servers = {s: _hwm_mb(p.pid) for s, p in mesh.procs.items()}
        cpu = {s: _cpu_s(p.pid) - idle[s] for s, p in mesh.procs.items()}
    finally:
        mesh.stop()
    return result, servers, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--campaigns", type=int, default=None, help="default: the scenario's 200")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep exports here")
    parser.add_argument(
        "--shuffled", action="store_true", help="send each export's lines in a seeded random order"
    )
    parser.add_argument("--in-process", dest="in_process", metavar="WORLD", default=None)
    parser.add_argument("--client", nargs=3, metavar=("WORLD", "INGESTION", "MEMORY"))
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(Path(args.in_process))))
        return
    if args.client:
        print(json.dumps(client(Path(args.client[0]), args.client[1], args.client[2])))
        return
    scratch = Path(tempfile.mkdtemp(prefix="liftos-ingest-bench-"))
    world = args.keep or scratch / "world"
    try:
        if not (world / "manifest.json").exists():
            t = time.perf_counter()
            sizes = generate(world, args.days, args.campaigns, args.seed)
            print(
                f"generated {sum(sizes.values()):,} export lines ({sizes}) in {time.perf_counter() - t:.0f}s"
            )
        lines = sum(json.loads((world / "manifest.json").read_text())["rows"].values())
        if args.shuffled:
            shuffle(world, world / "shuffled_exports", args.seed)
            world = world / "shuffled_exports"
        order = f"shuffled (seed {args.seed})" if args.shuffled else "as generated (by day)"
        print(f"exports: {lines:,} lines in {world}, line order {order}")
        ref = _worker("in-process", str(world))
        print(
            f"in-process transform : {ref['rows'] / ref['seconds']:>10,.0f} rows/s  "
            f"({ref['rows']:,} rows, {ref['written']:,} records, {ref['seconds']:.1f}s, "
            f"peak RSS {ref['peak_rss_mb']:,.0f} MB)"
        )
        grpc, servers, cpu = grpc_path(world, scratch / "mesh")
        print(
            f"gRPC → durable ack   : {grpc['rows'] / grpc['seconds']:>10,.0f} rows/s  "
            f"({grpc['rows']:,} rows, {grpc['written']:,} records, {grpc['seconds']:.1f}s; peak RSS "
            f"client {grpc['peak_rss_mb']:,.0f} MB, ingestion {servers['ingestion']:,.0f} MB, "
            f"memory {servers['memory']:,.0f} MB)"
        )
        ratio = (grpc["rows"] / grpc["seconds"]) / (ref["rows"] / ref["seconds"])
        print(f"ratio gRPC / in-process = {ratio:.2f}  (target >= 0.6)")
        shuffled = ", lines shuffled" if args.shuffled else ""
        figure(f"Ingest over gRPC to durable ack, {grpc['rows']:,} rows{shuffled}",
               grpc["rows"] / grpc["seconds"], "rows/s",
               reference="the same transform in process", reference_value=ref["rows"] / ref["seconds"],
               target="ratio ≥ 0.6", met=ratio >= 0.6,
               note=f"peak RSS ingestion {servers['ingestion']:,.0f} MB, memory "
               f"{servers['memory']:,.0f} MB")  # fmt: skip
        # Where the CPU went, per row: on a machine with few cores the gRPC path's rate is
        # bounded by the sum of its processes' CPU over the cores, not by any one of them.
        parts = {"client": grpc["cpu_s"], **cpu}
        total = sum(parts.values())
        per_row = ", ".join(f"{k} {v / grpc['rows'] * 1e6:,.0f}" for k, v in parts.items())
        print(
            f"CPU per row (µs): in-process {ref['cpu_s'] / ref['rows'] * 1e6:,.0f}; gRPC path "
            f"{total / grpc['rows'] * 1e6:,.0f} = {per_row}; {os.cpu_count()} cores busy "
            f"{total / grpc['seconds']:.2f} on average"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            shutil.rmtree(scratch / "mesh", ignore_errors=True)


if __name__ == "__main__":
    main()
