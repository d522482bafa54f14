"""Generated requests against every RPC of the mesh, at volume: counts by status code.

    python bench/fuzz_requests.py                    # 8,000 per RPC: 200,000 requests
    python bench/fuzz_requests.py --per-rpc 300      # a quick pass
    python bench/fuzz_requests.py --deep-per-rpc 0   # without the pass over real analyses

The five services run as their own processes (``mesh.cli.processes.Mesh``) on free loopback
ports; this process generates the requests with the same hypothesis strategies as
``tests/fuzz/test_request_fuzz.py`` (valid seeds with fields replaced by edge values, and
messages drawn from scratch) and sends them. Every answer is counted by status code; an
INTERNAL or UNKNOWN answer is a bug and its request is printed. The reference figure is the
rate of health checks on the same channels in the same run (the gRPC floor): how much
slower than an empty call a generated request is answered.

A second pass (``--deep-per-rpc``, by default as many as ``--per-rpc``; an eighth of that for
the RPCs that fit a model per call) starts from requests that name real analyses — a stored
attribution of a simulated demo world with its registry holdout and a stored product
analysis of an ingested products world (``tests/fuzz/deep.py``) — and sets one to three
fields to domain values (windows a day past the data, channels twice, 200 copies of a lift
test, horizons at their limits). There an INVALID_ARGUMENT that names no field counts as a
bug too. Its figures are separate from the first pass's, whose definition is unchanged.
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
from mesh.runtime.status import decode_status  # noqa: E402
from tests.fuzz import rpcs  # noqa: E402
from tests.fuzz.deep import deep_requests, deep_seeds, deep_state  # noqa: E402
from tests.fuzz.proto_strategies import requests  # noqa: E402
from tests.fuzz.test_request_fuzz import seed_state  # noqa: E402

BUGS = ("INTERNAL", "UNKNOWN")
NO_FIELD = "INVALID_ARGUMENT naming no field"
# RPCs that fit a model on every call (~0.3-2 s each): the deep pass sends them an eighth.
HEAVY = ("AnalyzeAttribution", "AnalyzeProducts", "EstimateEffect", "Recommend")


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
    channel: grpc.Channel,
    rpc: rpcs.Rpc,
    seeds: dict,
    examples: int,
    timeout: float,
    strategy: st.SearchStrategy[list] | None = None,
    need_field: bool = False,
) -> tuple[Counter[str], list[str], float]:
    """(codes, the first few bad requests, seconds) for ``examples`` generated requests
    (``strategy``'s, or the plain seeds'). ``need_field``: an INVALID_ARGUMENT that names no
    field is counted as NO_FIELD, a bug."""
    if strategy is None:
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
        error = rpcs.call_error(channel, rpc, messages, timeout)
        code = "OK" if error is None else error.code().name
        if need_field and code == "INVALID_ARGUMENT" and not decode_status(error).fields:  # type: ignore[arg-type]
            code = NO_FIELD
        codes[code] += 1
        if code in (*BUGS, NO_FIELD) and len(bad) < 3:
            text = "; ".join(text_format.MessageToString(m, as_one_line=True) for m in messages)
            bad.append(f"{code}: {text[:1500]}")

    start = time.perf_counter()
    one_call()
    return codes, bad, time.perf_counter() - start


def deep_pass(
    channels: dict[str, grpc.Channel], per_rpc: int, timeout: float, only: str, floor: float
) -> int:
    """Requests naming a stored attribution and a stored product analysis; the bugs seen."""
    print("\nrequests naming real analyses (tests/fuzz/deep.py):", flush=True)
    state = deep_state(channels)
    by_name = {r.name: r for r in rpcs.all_rpcs()}
    total: Counter[str] = Counter()
    all_bad: list[str] = []
    fuzz_s = 0.0
    names = [n for n in deep_seeds(state) if not only or only in n]
    print(f"{'rpc':42} {'requests':>9} {'req/s':>8}  codes")
    for name in names:
        rpc = by_name[name]
        seeds = deep_seeds(state)[name]
        examples = max(2, per_rpc // 8) if rpc.method.name in HEAVY else per_rpc
        strategy = deep_requests(seeds, state).map(lambda m: [m])
        codes, bad, seconds = fuzz_rpc(
            channels[rpc.service], rpc, {}, examples, timeout, strategy, need_field=True
        )
        total.update(codes)
        fuzz_s += seconds
        all_bad += [f"{name} {b}" for b in bad]
        n = sum(codes.values())
        shown = ", ".join(f"{c} {k:,}" for c, k in codes.most_common())
        print(f"{name:42} {n:>9,} {n / seconds:>8.1f}  {shown}", flush=True)
    n = sum(total.values())
    print(f"\n{n:,} requests naming real analyses; by status code:")
    for code, k in total.most_common():
        print(f"  {code:32} {k:>9,}  ({k / n:.1%})")
    for line in all_bad:
        print("BUG", line)
    bugs = sum(total[b] for b in (*BUGS, NO_FIELD))
    figure(f"generated requests naming real analyses over gRPC, {n:,} over {len(names)} RPCs",
           n / fuzz_s, "requests/s", reference="health-check floor, same channel",
           reference_value=floor)  # fmt: skip
    figure("requests naming real analyses answered INTERNAL/UNKNOWN or refused naming no field",
           bugs, "", target="0", met=not bugs,
           note=", ".join(f"{c} {k:,}" for c, k in total.most_common()))  # fmt: skip
    return bugs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-rpc", type=int, default=8_000)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--only", default="", help="substring of Service.Method names to run")
    parser.add_argument(
        "--deep-per-rpc",
        type=int,
        default=None,
        help="requests per RPC naming real analyses (default: --per-rpc; 0: off)",
    )
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
            deep_per_rpc = args.per_rpc if args.deep_per_rpc is None else args.deep_per_rpc
            deep_bugs = 0
            if deep_per_rpc > 0:
                deep_bugs = deep_pass(channels, deep_per_rpc, args.timeout, args.only, floor)
            dead = mesh.dead()
            if dead:
                print("services that died:", dead)
            return 1 if any(total[b] for b in BUGS) or deep_bugs or dead else 0
        finally:
            for ch in channels.values():
                ch.close()
            mesh.stop()


if __name__ == "__main__":
    sys.exit(main())
