"""Mixed load on the mesh over loopback, and how causal estimates scale with worker processes.

Three parts, each bounded by ``--seconds``:

1. **Scaling**: the causal service alone, as a process, limited to 1 worker and then to 2
   (``LIFTOS_CAUSAL_WORKERS``); ``--clients`` closed-loop clients send the same realistic
   estimate (difference-in-differences on a 3,000-row geo x day panel sent inline, with its
   placebo, random-common-cause and subset checks: ~0.2-0.4 s of CPU). Prints estimates/s of
   each and their ratio (target >= 1.7 on 2 cores).
2. **Mixed**: memory, ingestion and causal as three processes (as ``liftos up`` runs them),
   with concurrent Ingest streams (raw simulator exports, 500 rows a batch, the next batch sent
   after the previous ack), Search calls (text queries, k=10), estimates on inline tables and
   estimates on records read from memory (causal -> memory Scan). Prints per-RPC throughput,
   p50/p99 latency and error counts by status code.
3. **Overload**: a burst of more simultaneous estimates than the causal service's workers plus
   its queue: the surplus must be refused RESOURCE_EXHAUSTED with RetryInfo (deliberate), and
   nothing else may fail.

Exit status 1 when any call fails with a code other than the deliberate RESOURCE_EXHAUSTED.

Run: ``OPENBLAS_NUM_THREADS=1 python bench/load.py [--seconds 20] [--clients 4]``
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from liftos.v1 import causal_pb2 as causal_pb  # noqa: E402
from liftos.v1 import causal_pb2_grpc as causal_grpc  # noqa: E402
from liftos.v1 import common_pb2 as common_pb  # noqa: E402
from liftos.v1 import ingestion_pb2 as ingestion_pb  # noqa: E402
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc  # noqa: E402
from liftos.v1 import memory_pb2 as memory_pb  # noqa: E402
from liftos.v1 import memory_pb2_grpc as memory_grpc  # noqa: E402

from bench._figures import figure  # noqa: E402
from mesh.cli.processes import Mesh  # noqa: E402
from mesh.runtime.config import PeerConfig  # noqa: E402
from mesh.runtime.synthetic_records import synthetic_records  # noqa: E402
from mesh.runtime.tables import frame_to_table  # noqa: E402
from mesh.sdk.client import LiftOS, retry_delay  # noqa: E402

SEARCH_ORG = "shop"  # seeded with synthetic records (campaigns 0-1 run geo experiment exp-bf)
INGEST_BATCH = 500
DELIBERATE = "RESOURCE_EXHAUSTED"


# -- measurements ------------------------------------------------------------------------------


@dataclass
class Stats:
    """Latencies of successful calls and failures by status code, per RPC."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    codes: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    units: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, rpc: str, seconds: float, units: int = 1) -> None:
        with self.lock:
            self.latencies[rpc].append(seconds)
            self.codes[rpc]["OK"] += 1
            self.units[rpc] += units

    def failed(self, rpc: str, error: grpc.RpcError) -> None:
        code = error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"
        with self.lock:
            self.codes[rpc][code] += 1
            if code == DELIBERATE and retry_delay(error) is None:
                self.codes[rpc]["RESOURCE_EXHAUSTED_WITHOUT_RETRYINFO"] += 1

    def unexpected(self) -> int:
        return sum(
            n
            for c in self.codes.values()
            for code, n in c.items()
            if code not in ("OK", DELIBERATE)
        )

    def report(self, seconds: float, unit_names: dict[str, str]) -> None:
        print(f"  {'rpc':<26}{'ok/s':>8}{'p50 ms':>9}{'p99 ms':>9}  codes")
        for rpc in sorted(self.codes):
            lat = np.asarray(self.latencies.get(rpc) or [np.nan]) * 1e3
            rate = self.codes[rpc]["OK"] / seconds
            extra = ""
            if rpc in unit_names:
                extra = f"  ({self.units[rpc] / seconds:,.0f} {unit_names[rpc]}/s)"
            print(
                f"  {rpc:<26}{rate:>8.1f}{np.percentile(lat, 50):>9.1f}{np.percentile(lat, 99):>9.1f}"
                f"  {dict(self.codes[rpc])}{extra}"
            )


def _tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of ``root`` and its live descendants (server, forkserver, workers), by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            out[pid] = stats[pid][1]
            todo += [p for p, (ppid, _) in stats.items() if ppid == pid]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data: Path, services: tuple[str, ...], env: dict[str, str]) -> Mesh:
    ports = {s: _free_port() for s in ("memory", "ingestion", "causal", "llm", "surfacing")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # Mesh passes this process's environment to its children
    try:
        mesh = Mesh(data, ports=ports, services=services, log_level="WARNING")
        mesh.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with LiftOS(PeerConfig(**{s: mesh.address(s) for s in ports})) as probe:
        status = mesh.wait_serving(probe.health)
    if any(status.get(s) != "SERVING" for s in services):
        logs = "\n".join(mesh.tail_log(s) for s in services)
        mesh.stop()
        raise SystemExit(f"mesh did not come up: {status}\n{logs}")
    return mesh


def _run_for(seconds: float, workers: list[Callable[[threading.Event], None]]) -> float:
    stop = threading.Event()
    threads = [threading.Thread(target=w, args=(stop,), daemon=True) for w in workers]
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(120)
    return time.perf_counter() - start


# -- requests ----------------------------------------------------------------------------------


def _panel(geos: int = 60, days: int = 50, seed: int = 0) -> pd.DataFrame:
    """A geo x day panel: half the geos get the campaign for the last third of the days."""
    rng = np.random.default_rng(seed)
    geo = np.repeat(np.arange(geos), days)
    day = np.tile(np.arange(days), geos)
    treated = ((geo < geos // 2) & (day >= days * 2 // 3)).astype(np.int64)
    revenue = 100 + 5 * (geo % 7) + 0.4 * day + rng.normal(0, 4, geo.size) + 6.0 * treated
    return pd.DataFrame(
        {"geo": [f"g{g}" for g in geo], "day": day, "revenue": revenue, "treated_post": treated}
    )


def estimate_request(seed: int = 0) -> causal_pb.EstimateEffectRequest:
    return causal_pb.EstimateEffectRequest(
        org_id="bench",
        method=causal_pb.ESTIMATION_METHOD_DID,
        table=frame_to_table(_panel(seed=seed)),
        roles=causal_pb.EffectRoles(
            outcome="revenue", treatment="treated_post", unit="geo", time="day"
        ),
        options=causal_pb.EstimationOptions(refutation_simulations=20, seed=seed),
    )


def records_estimate_request() -> causal_pb.EstimateEffectRequest:
    return causal_pb.EstimateEffectRequest(
        org_id=SEARCH_ORG,
        method=causal_pb.ESTIMATION_METHOD_DID,
        records=causal_pb.RecordQuery(
            experiment_id="exp-bf", aggregation=causal_pb.AGGREGATION_LEVEL_GEO_DAY
        ),
        roles=causal_pb.EffectRoles(
            outcome="spend", treatment="treated_post", unit="geo", time="day"
        ),
        options=causal_pb.EstimationOptions(refutation_simulations=10),
    )


def _estimate_loop(
    stub: causal_grpc.CausalServiceStub,
    request: causal_pb.EstimateEffectRequest,
    stats: Stats,
    rpc: str,
    timeout: float = 120.0,
) -> Callable[[threading.Event], None]:
    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            t = time.perf_counter()
            try:
                stub.EstimateEffect(request, timeout=timeout)
            except grpc.RpcError as error:
                stats.failed(rpc, error)
                delay = retry_delay(error)
                if delay is not None:
                    stop.wait(delay)  # a good client honours RetryInfo
                continue
            stats.ok(rpc, time.perf_counter() - t)

    return loop


def _search_loop(
    stub: memory_grpc.MemoryServiceStub, stats: Stats, per_second: float
) -> Callable[[threading.Event], None]:
    queries = ["black friday geo holdout", "tiktok prospecting spend", "email revenue",
               "brand search clicks", "retargeting conversions"]  # fmt: skip

    def loop(stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            request = memory_pb.SearchRequest(org_id=SEARCH_ORG, text=queries[i % 5], k=10)
            i += 1
            t = time.perf_counter()
            try:
                stub.Search(request, timeout=30)
                stats.ok("Search", time.perf_counter() - t)
            except grpc.RpcError as error:
                stats.failed("Search", error)
            stop.wait(max(0.0, 1 / per_second - (time.perf_counter() - t)))

    return loop


@dataclass(frozen=True)
class Export:
    source: str
    account: ingestion_pb.AccountInfo
    lines: list[str]


def _exports(days: int) -> list[Export]:
    import sim

    world = sim.simulate("demo", seed=3, days=days)
    accounts = {a["source"]: a for a in world.accounts}
    out = []
    for source, export in world.raw.items():
        a = accounts[source]
        account = ingestion_pb.AccountInfo(
            account_id=str(a["account_id"]), timezone=a["timezone"], currency_code=a["currency"],
            country_code="US", geo_keys={str(k): str(v) for k, v in a["geo_keys"].items()},
        )  # fmt: skip
        out.append(Export(source, account, list(export.lines())))
    return out


def _ingest_loop(
    stub: ingestion_grpc.IngestionServiceStub, export: Export, org: str, stats: Stats
) -> Callable[[threading.Event], None]:
    """One Ingest stream at a time; each batch is sent after the previous one's ack, so the
    ack latency is the batch's own. The export is replayed with a new pull time when done."""

    def batches(stop: threading.Event, acked: threading.Event, sent: list[float]) -> Iterator:
        pass_no = 0
        while not stop.is_set():
            pulled = dt.datetime.now(dt.UTC)  # a new pull: new batch ids, rows restated
            for offset in range(0, len(export.lines), INGEST_BATCH):
                if stop.is_set():
                    return
                rows = export.lines[offset : offset + INGEST_BATCH]
                request = ingestion_pb.IngestRequest(
                    org_id=org,
                    source=common_pb.DataSource.Value("DATA_SOURCE_" + export.source.upper()),
                    batch_id="b-"
                    + hashlib.sha256(f"{org}:{pass_no}:{offset}".encode()).hexdigest()[:24],
                    json_rows=rows,
                    account=export.account,
                    row_offset=offset,
                )
                request.pulled_at.FromDatetime(pulled.replace(tzinfo=None))
                acked.clear()
                sent.append(time.perf_counter())
                yield request
                acked.wait(120)
            pass_no += 1

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            acked, sent = threading.Event(), []
            try:
                for reply in stub.Ingest(batches(stop, acked, sent), timeout=600):
                    stats.ok("Ingest (batch ack)", time.perf_counter() - sent[-1],
                             units=reply.accepted_count + reply.rejected_count)  # fmt: skip
                    acked.set()
            except grpc.RpcError as error:
                stats.failed("Ingest (batch ack)", error)
                acked.set()
                delay = retry_delay(error)
                stop.wait(delay if delay is not None else 1.0)

    return loop


# -- the three parts ---------------------------------------------------------------------------


def scaling(scratch: Path, seconds: float, clients: int) -> dict[int, float]:
    rates: dict[int, float] = {}
    requests = [estimate_request(seed=i) for i in range(clients)]
    for workers in (1, 2):
        mesh = _start(
            scratch / f"scale-{workers}", ("causal",), {"LIFTOS_CAUSAL_WORKERS": str(workers)}
        )
        try:
            channel = grpc.insecure_channel(mesh.address("causal"))
            stub = causal_grpc.CausalServiceStub(channel)
            for r in requests[:workers]:  # warm every worker (first use loads nothing new, but
                stub.EstimateEffect(r, timeout=120)  # the forkserver may still be preloading)
            stats = Stats()
            server = mesh.procs["causal"].pid
            before, load_before = _tree_cpu(server), os.times()
            took = _run_for(
                seconds, [_estimate_loop(stub, r, stats, "EstimateEffect") for r in requests]
            )
            after, load_after = _tree_cpu(server), os.times()
            rates[workers] = stats.codes["EstimateEffect"]["OK"] / took
            used = {p: c - before.get(p, 0.0) for p, c in after.items()}
            main = used.pop(server, 0.0)
            busy = sorted((c for c in used.values() if c > 0.05 * took), reverse=True)
            client = (load_after.user + load_after.system) - (load_before.user + load_before.system)
            print(
                f"causal with {workers} worker(s), {clients} clients, {took:.0f} s: cores busy "
                f"server {main / took:.2f}, workers {' + '.join(f'{c / took:.2f}' for c in busy)}, "
                f"this client {client / took:.2f}; load average {os.getloadavg()[0]:.1f}"
            )
            stats.report(took, {})
            if stats.unexpected():
                raise SystemExit("unexpected errors in the scaling run")
            channel.close()
        finally:
            mesh.stop()
    return rates


def mixed(scratch: Path, seconds: float, args: argparse.Namespace) -> tuple[Stats, Stats]:
    mesh = _start(scratch / "mixed", ("memory", "ingestion", "causal"), {})
    try:
        channels = {s: grpc.insecure_channel(mesh.address(s)) for s in mesh.services}
        memory = memory_grpc.MemoryServiceStub(channels["memory"])
        ingestion = ingestion_grpc.IngestionServiceStub(channels["ingestion"])
        causal = causal_grpc.CausalServiceStub(channels["causal"])
        records = synthetic_records(SEARCH_ORG, 8 * 4 * 90, campaigns=4, geos=8)
        memory.Write(
            iter(
                memory_pb.WriteRequest(org_id=SEARCH_ORG, records=records[i : i + 1000])
                for i in range(0, len(records), 1000)
            ),
            timeout=120,
        )
        memory.Search(memory_pb.SearchRequest(org_id=SEARCH_ORG, text="warm", k=10), timeout=60)
        causal.EstimateEffect(records_estimate_request(), timeout=120)
        exports = _exports(args.days)

        stats = Stats()
        workers: list[Callable[[threading.Event], None]] = []
        for i in range(args.ingest_streams):
            e = exports[i % len(exports)]
            workers.append(_ingest_loop(ingestion, e, f"load-{i}", stats))
        workers += [_search_loop(memory, stats, args.search_rate) for _ in range(args.searchers)]
        workers += [
            _estimate_loop(causal, estimate_request(seed=i), stats, "EstimateEffect (table)")
            for i in range(args.clients)
        ]
        workers.append(
            _estimate_loop(causal, records_estimate_request(), stats, "EstimateEffect (records)")
        )
        took = _run_for(seconds, workers)
        print(
            f"mixed load, {took:.0f} s: {args.ingest_streams} ingest streams, {args.searchers} "
            f"searchers at {args.search_rate:g}/s, {args.clients + 1} estimate clients:"
        )
        stats.report(took, {"Ingest (batch ack)": "rows"})

        # overload: more simultaneous estimates than workers + queue
        burst = Stats()
        request = estimate_request(seed=99)
        barrier = threading.Barrier(args.burst)

        def one() -> None:
            barrier.wait()
            t = time.perf_counter()
            try:
                causal.EstimateEffect(request, timeout=120)
                burst.ok("EstimateEffect (burst)", time.perf_counter() - t)
            except grpc.RpcError as error:
                burst.failed("EstimateEffect (burst)", error)

        threads = [threading.Thread(target=one) for _ in range(args.burst)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        took = time.perf_counter() - t0
        print(f"overload: {args.burst} simultaneous estimates ({took:.1f} s):")
        burst.report(took, {})
        for c in channels.values():
            c.close()
        return stats, burst
    finally:
        mesh.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each timed part")
    parser.add_argument("--clients", type=int, default=4, help="estimate clients")
    parser.add_argument("--ingest-streams", type=int, default=2)
    parser.add_argument("--searchers", type=int, default=2)
    parser.add_argument("--search-rate", type=float, default=20.0, help="per searcher, calls/s")
    parser.add_argument("--burst", type=int, default=32, help="simultaneous estimates")
    parser.add_argument("--days", type=int, default=60, help="days of raw exports to ingest")
    parser.add_argument(
        "--scaling-only", action="store_true", help="skip the mixed and burst parts"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; causal workers default to the CPUs available")
    scratch = Path(tempfile.mkdtemp(prefix="liftos-load-"))
    try:
        rates = scaling(scratch, args.seconds, args.clients)
        print(
            f"estimates/s: 1 worker {rates[1]:.2f}, 2 workers {rates[2]:.2f}; "
            f"ratio {rates[2] / rates[1]:.2f} (target >= 1.7)"
        )
        figure(f"causal estimates/s with 2 workers, {args.clients} clients, {args.seconds:g} s",
               rates[2], "estimates/s", reference="1 worker", reference_value=rates[1],
               target="ratio ≥ 1.7", met=rates[2] >= 1.7 * rates[1],
               note="DiD on a 3,000-row panel with its checks")  # fmt: skip
        if args.scaling_only:
            return
        stats, burst = mixed(scratch, args.seconds, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    refused = burst.codes["EstimateEffect (burst)"][DELIBERATE]
    without = burst.codes["EstimateEffect (burst)"]["RESOURCE_EXHAUSTED_WITHOUT_RETRYINFO"]
    unexpected = stats.unexpected() + burst.unexpected()  # counts refusals without RetryInfo
    print(
        f"overload: {refused} of {args.burst} refused RESOURCE_EXHAUSTED "
        f"({refused - without} with RetryInfo); unexpected errors: {unexpected}"
    )
    for rpc, unit in (("Search", "ms"), ("Ingest (batch ack)", "ms"),
                      ("EstimateEffect (table)", "ms")):  # fmt: skip
        lat = stats.latencies.get(rpc)
        if lat:
            figure(f"mixed load: {rpc} p50", 1e3 * float(np.percentile(lat, 50)), unit,
                   note=f"p99 {1e3 * float(np.percentile(lat, 99)):.0f} ms; "
                   f"{stats.codes[rpc]['OK'] / args.seconds:.1f} ok/s")  # fmt: skip
    figure(f"mixed load + burst of {args.burst}: unexpected errors", unexpected, "",
           target="0", met=not unexpected,
           note=f"{refused} of the burst refused RESOURCE_EXHAUSTED ({refused - without} with "
           "RetryInfo), as designed")  # fmt: skip
    if unexpected:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
