"""Abandoned surfacing calls stop computing (R1-F3; helper U). PYTHONPATH=.:gen python bench/surfacing_cancel.py [n_geos]

1. Over gRPC (services in this process, a demo world fitted by causal): an idle Recommend, then
   six Recommends abandoned at a 0.5 s deadline, the CPU this process burns over the second
   after the last, and the time of the next full Recommend. Works on the base tree too.
2. (new tree only) In the domain: how long a cancelled Recommend takes to stop, and the
   checks' overhead on a normal one (checks on vs. checkpoint replaced by a no-op, alternated).
"""

import statistics
import sys
import threading
import time
from pathlib import Path

import grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from bench._figures import figure
from tests.causal.attribution.records import world_mesh

ORG = "simshop"


def grpc_part(n_geos: int, tmp: Path) -> bytes:
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=n_geos)
    with world_mesh(tmp, {ORG: world}, surfacing=True) as s:
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(s["causal"].address))
        ev = list(
            causal.AnalyzeAttribution(causal_pb.AnalyzeAttributionRequest(org_id=ORG), timeout=600)
        )
        aid = ev[-1].result.analysis_id
        full = causal.GetAnalysis(causal_pb.GetAnalysisRequest(org_id=ORG, analysis_id=aid))
        stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(s["surfacing"].address))
        req = pb.RecommendRequest(org_id=ORG, analysis_ids=[aid])
        stub.Recommend(req, timeout=600)  # warm
        for rep in range(2):
            t = time.perf_counter()
            stub.Recommend(req, timeout=600)
            idle = time.perf_counter() - t
            codes = []
            for _ in range(6):
                try:
                    stub.Recommend(req, timeout=0.5)
                    codes.append("OK")
                except grpc.RpcError as e:
                    codes.append(e.code().name)
            c0 = time.process_time()
            time.sleep(1.0)
            cpu = time.process_time() - c0
            t = time.perf_counter()
            stub.Recommend(req, timeout=600)
            after = time.perf_counter() - t
            print(
                f"grpc rep{rep}: idle Recommend {idle:.2f} s; 6 abandoned {set(codes)}; CPU in the "
                f"next 1 s {cpu:.2f} s; next Recommend {after:.2f} s (ratio {after / idle:.2f})",
                flush=True,
            )
            if rep == 1:
                figure("Recommend after six abandoned at a 0.5 s deadline", after, "s",
                       reference="the same Recommend on an idle server", reference_value=idle,
                       target="ratio ≤ 1.5", met=after / idle <= 1.5,
                       note=f"CPU burned in the second after: {cpu:.2f} s")  # fmt: skip
            time.sleep(8)  # let any leftover work drain before the next rep
        return full.SerializeToString()


def domain_part(blob: bytes) -> None:
    from mesh.runtime.cancellation import Cancelled, CancelToken, run_with
    from surfacing_svc import budget_objective, budget_solve, cancellation, design, forecast
    from surfacing_svc.convert.models import planning_model
    from surfacing_svc.planning import RecommendQuestion, answer_recommend

    analysis = causal_pb.GetAnalysisResponse.FromString(blob).analysis
    model = planning_model(analysis)
    q = RecommendQuestion(org_id=ORG, analysis_ids=(analysis.analysis_id,))

    # Checkpoints per Recommend and the cost of one.
    count = [0]
    real = cancellation.checkpoint

    def counting() -> None:
        count[0] += 1
        real()

    for m in (budget_solve, budget_objective, design.plan, design.power, forecast):
        m.checkpoint = counting
    t = time.perf_counter()
    run_with(CancelToken.within(600), answer_recommend, model, q, None)
    one = time.perf_counter() - t
    token = CancelToken.within(600)
    with cancellation.cancellable(token):
        n = 200_000
        t = time.perf_counter()
        for _ in range(n):
            real()
        per = (time.perf_counter() - t) / n
    print(
        f"domain: one Recommend {one:.2f} s, {count[0]} checkpoints ({one / max(count[0], 1) * 1e3:.2f} ms apart), "
        f"one checkpoint {per * 1e9:.0f} ns -> {count[0] * per / one:.4%} of the call",
        flush=True,
    )

    # Overhead, alternated: checks on (live token) vs checkpoint a no-op.
    def noop() -> None:
        return None

    on, off = [], []
    for i in range(6):
        for mode in ("on", "off") if i % 2 == 0 else ("off", "on"):
            for m in (budget_solve, budget_objective, design.plan, design.power, forecast):
                m.checkpoint = real if mode == "on" else noop
            t = time.perf_counter()
            run_with(CancelToken.within(600), answer_recommend, model, q, None)
            (on if mode == "on" else off).append(time.perf_counter() - t)
    for m in (budget_solve, budget_objective, design.plan, design.power, forecast):
        m.checkpoint = real
    figure("Recommend with its cancellation checkpoints", statistics.median(on), "s",
           reference="checkpoints a no-op, alternated", reference_value=statistics.median(off),
           target="ratio ≤ 1.05", met=statistics.median(on) <= 1.05 * statistics.median(off),
           note=f"{count[0]} checkpoints, {per * 1e9:.0f} ns each")  # fmt: skip
    print(
        f"overhead: median with checks {statistics.median(on):.3f} s, without {statistics.median(off):.3f} s, "
        f"ratio {statistics.median(on) / statistics.median(off):.3f} (6 each, alternated)",
        flush=True,
    )

    # Stop latency: cancel a running Recommend at spread times, time to the thread's return.
    lat = []
    for k in range(10):
        token = CancelToken()
        box: dict[str, str] = {}

        def work(token: CancelToken = token, box: dict[str, str] = box) -> None:
            try:
                run_with(token, answer_recommend, model, q, None)
                box["r"] = "finished"
            except Cancelled:
                box["r"] = "cancelled"

        th = threading.Thread(target=work)
        th.start()
        time.sleep(0.1 + 0.2 * k)
        t = time.perf_counter()
        token.cancel()
        th.join()
        lat.append((time.perf_counter() - t, box["r"]))
    stopped = [x for x, r in lat if r == "cancelled"]
    figure("a cancelled Recommend's thread returns after, median", statistics.median(stopped) * 1e3,
           "ms", target="≤ 500 ms", met=statistics.median(stopped) <= 0.5,
           note=f"max {max(stopped) * 1e3:.1f} ms over {len(stopped)} cancelled runs")  # fmt: skip
    print(
        f"stop latency over {len(stopped)} cancelled runs: median {statistics.median(stopped) * 1e3:.1f} ms, "
        f"max {max(stopped) * 1e3:.1f} ms",
        flush=True,
    )


def main() -> None:
    n_geos = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        blob = grpc_part(n_geos, Path(tmp))
    try:
        import mesh.runtime.cancellation  # noqa: F401
    except ImportError:
        return  # the base tree: no domain part
    domain_part(blob)


if __name__ == "__main__":
    main()
