"""Load on two replicas of every stateless service, one of each killed mid-run (issue 21).

The mesh runs as ``liftos up --replicas 2 --metrics-port …`` runs it: memory alone, ingestion,
causal, llm and surfacing as two processes each, every peer target listing both replicas
(round robin, idempotent calls retried on UNAVAILABLE by the channels' service config).
``--clients`` closed-loop threads call one idempotent RPC of each stateless service in turn —
GetCalendar, ListAnalyses, CheckClaims, PredictPerformance (which reads 120 days of history
from memory) — for ``--seconds``; at ``--kill-at`` the second replica of each is SIGKILLed.

Prints the calls by method and code as the clients saw them, then as the surviving
replicas' metrics endpoints count them (liftos_rpc_handled_total, per instance). Exit status 1
when any call failed. ``--no-retries`` turns the clients' retries off (grpc.enable_retries=0,
the same round robin) to show what the service config saves.

Run: ``OPENBLAS_NUM_THREADS=1 python bench/replicas_load.py [--seconds 20] [--kill-at 6]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import grpc

from bench._figures import figure
from mesh.cli.processes import STATELESS, Mesh
from mesh.runtime.config import PeerConfig
from mesh.sdk import LiftOS
from tests.runtime.test_replicas import idempotent_calls, replica_ports, scrape

ORG = "acme"
ACCOUNT = {"account_id": "shop", "timezone": "UTC", "currency": "USD", "country": "US"}
MAPPING = {"date": "date", "spend": "spend", "conversions": "orders", "revenue": "revenue"}
SERVICES = ("ingestion", "memory", "causal", "llm", "surfacing")


def load(
    mesh: Mesh, seconds: float, kill_at: float, clients: int, retries: bool
) -> tuple[Counter[tuple[str, str]], list[float]]:
    rpc = idempotent_calls(mesh, None if retries else [("grpc.enable_retries", 0)])
    codes: Counter[tuple[str, str]] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def work(offset: int) -> None:
        names = list(rpc)
        i = offset
        while time.monotonic() < stop_at:
            name = names[i % len(names)]
            i += 1
            t0 = time.perf_counter()
            try:
                rpc[name]()
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            with lock:
                codes[(name, code)] += 1
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    time.sleep(kill_at)
    for service in STATELESS:
        mesh.kill(f"{service}.1")
    print(f"killed {', '.join(f'{s}.1' for s in STATELESS)} at {kill_at:.0f} s", flush=True)
    for t in threads:
        t.join()
    return codes, latencies


def handled(port: int) -> Counter[tuple[str, str]]:
    """liftos_rpc_handled_total of one metrics endpoint, by (method, code)."""
    out: Counter[tuple[str, str]] = Counter()
    for name, labels, value in scrape(port):
        if name == "liftos_rpc_handled_total":
            out[(labels["method"], labels["code"])] += int(value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--kill-at", type=float, default=6)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--no-retries", action="store_true")
    args = parser.parse_args()
    ports, metrics = replica_ports(first=41051)
    with tempfile.TemporaryDirectory() as tmp:
        mesh = Mesh(
            Path(tmp) / "mesh", ports=ports, replicas=2, metrics_port=metrics,
            log_level="WARNING",
        )  # fmt: skip
        t0 = time.monotonic()
        mesh.start()
        try:
            peers = PeerConfig(**{s: mesh.address(s) for s in SERVICES})
            with LiftOS(peers) as client:
                status = mesh.wait_serving(client.health, timeout=300)
                if any(v != "SERVING" for v in status.values()):
                    print(f"mesh did not come up: {status}", file=sys.stderr)
                    return 1
                print(f"{len(mesh.procs)} processes serving in {time.monotonic() - t0:.0f} s")
                for s in SERVICES:
                    print(f"  {s:<10} {mesh.address(s)}")
                start = dt.date(2025, 1, 1)
                history = [
                    {"date": (start + dt.timedelta(days=i)).isoformat(), "spend": 100.0 + i % 7,
                     "orders": 10 + i % 5, "revenue": 500.0 + 3 * (i % 11)}
                    for i in range(120)
                ]  # fmt: skip
                client.ingest("generic", history, account=ACCOUNT, org_id=ORG, mapping=MAPPING)
            retries = not args.no_retries
            print(
                f"load: {args.clients} clients for {args.seconds:.0f} s, retries "
                f"{'on' if retries else 'off'}"
            )
            codes, latencies = load(mesh, args.seconds, args.kill_at, args.clients, retries)
            latencies.sort()
            total = sum(codes.values())
            failed = sum(n for (_, code), n in codes.items() if code != "OK")
            print(f"\nclients saw {total} calls ({total / args.seconds:.1f}/s), {failed} failed")
            figure(f"failed calls, 2 replicas each, one killed mid-load (retries {'on' if retries else 'off'})",
                   failed, "calls", target="0", met=failed == 0,
                   note=f"{total} calls in {args.seconds:.0f} s")  # fmt: skip
            if latencies:
                p50 = latencies[len(latencies) // 2] * 1e3
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3
                print(f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            for (method, code), n in sorted(codes.items()):
                print(f"  {method:<20} {code:<18} {n}")
            print("\nsurviving replicas' metrics endpoints (liftos_rpc_handled_total):")
            for name, port in mesh.metrics_ports().items():
                if mesh.procs[name].poll() is not None:
                    print(f"  {name:<12} :{port}  (killed)")
                    continue
                for (method, code), n in sorted(handled(port).items()):
                    print(f"  {name:<12} :{port}  {method:<24} {code:<10} {n}")
            return 1 if failed else 0
        finally:
            mesh.stop()


if __name__ == "__main__":
    sys.exit(main())
