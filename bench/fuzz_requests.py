"""Generated requests against every RPC of the mesh, at volume: counts by status code.

    python bench/fuzz_requests.py                    # 8,000 per RPC: 200,000 requests
    python bench/fuzz_requests.py --per-rpc 300      # a quick pass

The five services run as their own processes (``mesh.cli.processes.Mesh``) on free loopback
ports; this process generates the requests with the same hypothesis strategies as
``tests/fuzz/test_request_fuzz.py`` (valid seeds with fields replaced by edge values, and
messages drawn from scratch) and sends them. Every answer is counted by status code; an
INTERNAL or UNKNOWN answer is a bug and its request is printed. The reference figure is the
rate of health checks on the same channels in the same run (the gRPC floor): how much
slower than an empty call a generated request is answered.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import grpc
from google.protobuf import text_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench._figures import figure  # noqa: E402
from mesh.cli.processes import Mesh  # noqa: E402
from tests.fuzz import rpcs  # noqa: E402
from tests.fuzz.proto_strategies import requests  # noqa: E402
from tests.fuzz.test_request_fuzz import seed_state  # noqa: E402

BUGS = ("INTERNAL", "UNKNOWN")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _health_rate(channel: grpc.Channel, seconds: float = 2.0) -> float:
    stub = health_pb2_grpc.HealthStub(channel)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        n += 1
    return n / (time.perf_counter() - start)


def fuzz_rpc(
    channel: grpc.Channel, rpc: rpcs.Rpc, seeds: dict, examples: int, timeout: float
) -> tuple[Counter[str], list[str], float]:
    """(codes, the first few bad requests, seconds) for ``examples`` generated requests."""
    one = requests(seeds.get(rpc.name) or rpcs.org_only(rpc))
    strategy = st.lists(one, max_size=3) if rpc.client_streaming else one.map(lambda m: [m])
    codes: Counter[str] = Counter()
    bad: list[str] = []

    @settings(
        max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(strategy)
    def one_call(messages: list) -> None:
        code = rpcs.call(channel, rpc, messages, timeout).name
        codes[code] += 1
        if code in BUGS and len(bad) < 3:
            text = "; ".join(text_format.MessageToString(m, as_one_line=True) for m in messages)
            bad.append(f"{code}: {text[:1500]}")

    start = time.perf_counter()
    one_call()
    return codes, bad, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-rpc", type=int, default=8_000)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--only", default="", help="substring of Service.Method names to run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="liftos-fuzz-") as tmp:
        ports = dict(zip(rpcs.SERVICES, _free_ports(len(rpcs.SERVICES)), strict=True))
        mesh = Mesh(Path(tmp), ports=ports, log_level="WARNING")
        mesh.start()
        options = [("grpc.max_receive_message_length", 64 * 2**20),
                   ("grpc.max_send_message_length", 64 * 2**20)]  # fmt: skip
        channels = {s: grpc.insecure_channel(mesh.address(s), options=options) for s in ports}
        try:
            for ch in channels.values():
                grpc.channel_ready_future(ch).result(timeout=120)
                health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=60)
            seeds = rpcs.seeds(**seed_state(channels))
            floor = _health_rate(channels["memory"])
            total: Counter[str] = Counter()
            print(f"{'rpc':42} {'requests':>9} {'req/s':>8}  codes")
            all_bad: list[str] = []
            fuzz_s = 0.0
            for rpc in rpcs.all_rpcs():
                if args.only and args.only not in rpc.name:
                    continue
                codes, bad, seconds = fuzz_rpc(
                    channels[rpc.service], rpc, seeds, args.per_rpc, args.timeout
                )
                total.update(codes)
                fuzz_s += seconds
                all_bad += [f"{rpc.name} {b}" for b in bad]
                n = sum(codes.values())
                shown = ", ".join(f"{c} {k:,}" for c, k in codes.most_common())
                print(f"{rpc.name:42} {n:>9,} {n / seconds:>8.0f}  {shown}", flush=True)
            n = sum(total.values())
            print(f"\n{n:,} requests; by status code:")
            for code, k in total.most_common():
                print(f"  {code:20} {k:>9,}  ({k / n:.1%})")
            print(f"health-check floor on the same channel: {floor:,.0f} calls/s")
            for line in all_bad:
                print("BUG", line)
            dead = mesh.dead()
            if dead:
                print("services that died:", dead)
            rpcs_run = sum(1 for r in rpcs.all_rpcs() if not args.only or args.only in r.name)
            figure(f"generated requests over gRPC, {n:,} over {rpcs_run} RPCs", n / fuzz_s,
                   "requests/s", reference="health-check floor, same channel",
                   reference_value=floor)  # fmt: skip
            bugs = sum(total[b] for b in BUGS)
            figure("generated requests answered INTERNAL/UNKNOWN (or a service died)",
                   bugs + len(dead), "", target="0", met=not bugs and not dead,
                   note=", ".join(f"{c} {k:,}" for c, k in total.most_common()))  # fmt: skip
            return 1 if any(total[b] for b in BUGS) or dead else 0
        finally:
            for ch in channels.values():
                ch.close()
            mesh.stop()


if __name__ == "__main__":
    sys.exit(main())
