"""Explain's time to first token and total time (issue 16: first delta within 100 ms with the
default writer), with BuildContext and CheckClaims, on real servers on localhost.

The causal, surfacing and LLM services run in this process (each on its own port, as in the
tests); the client calls over ordinary gRPC channels. Explain asks surfacing's
CheckAnalysisData whether the data under the analysis changed (84c134f): without a surfacing
service of its own the bench's llm asked 127.0.0.1:50055, so it timed a check that failed at
once (or another mesh's answer); the bench stops if an explanation says it was not checked.
The reference measured in the same run is the causal service's own GetAnalysis, the first
peer call every Explain makes: the ratio says what the data check, writing and checking the
explanation add. An LLM row uses a local endpoint that streams a prepared answer at once
(tests/llm/fake_openai.py), so it measures our side of the LLM path (sentence buffering and
the guardrail), not a model.

Run: PYTHONPATH=.:gen python bench/llm_explain_latency.py [--calls 200]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from liftos.v1 import causal_pb2 as causal_pb  # noqa: E402
from liftos.v1 import causal_pb2_grpc as causal_grpc  # noqa: E402
from liftos.v1 import llm_pb2 as pb  # noqa: E402
from liftos.v1 import llm_pb2_grpc as llm_grpc  # noqa: E402

from bench._figures import figure  # noqa: E402
from causal_svc.app import build as causal_build  # noqa: E402
from llm_svc.app import build as llm_build  # noqa: E402
from llm_svc.settings import LlmSettings  # noqa: E402
from mesh.runtime.inprocess import running_services  # noqa: E402
from mesh.runtime.main import Build  # noqa: E402
from mesh.runtime.tables import frame_to_table  # noqa: E402
from surfacing_svc.app import build as surfacing_build  # noqa: E402
from tests.llm.fake_openai import Script, fake_openai, words  # noqa: E402

ORG = "bench"


def analysis(causal: causal_grpc.CausalServiceStub, method: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    treated = rng.permutation(np.repeat([0, 1], 200))
    frame = pd.DataFrame(
        {"meta_retargeting": treated, "revenue": 100 + 12 * treated + rng.normal(0, 5, 400)}
    )
    reply = causal.EstimateEffect(
        causal_pb.EstimateEffectRequest(
            org_id=ORG, method=method, table=frame_to_table(frame), randomized=True,
            roles=causal_pb.EffectRoles(outcome="revenue", treatment="meta_retargeting"),
            options=causal_pb.EstimationOptions(refutation_simulations=5, seed=seed),
        )
    )  # fmt: skip
    return reply.analysis_id


def ms(values: list[float]) -> str:
    q = statistics.quantiles(values, n=20)
    return f"p50 {statistics.median(values) * 1e3:6.2f} ms  p95 {q[18] * 1e3:6.2f} ms"


def explain_times(
    stub: llm_grpc.LlmServiceStub, request: pb.ExplainRequest, calls: int
) -> tuple[list[float], list[float]]:
    first, total = [], []
    for _ in range(calls):
        start = time.perf_counter()
        seen_first = None
        for reply in stub.Explain(request):
            if seen_first is None and reply.WhichOneof("event") == "text_delta":
                seen_first = time.perf_counter() - start
        total.append(time.perf_counter() - start)
        first.append(seen_first if seen_first is not None else total[-1])
    return first, total


def require_checked(stub: llm_grpc.LlmServiceStub, analysis_id: str) -> None:
    """Stop unless Explain's data check was answered: a bench whose llm cannot reach its
    surfacing service times an explanation that skips the check."""
    replies = list(stub.Explain(pb.ExplainRequest(org_id=ORG, analysis_id=analysis_id)))
    text = next(r.done.text for r in replies if r.WhichOneof("event") == "done")
    if "was not checked" in text:
        sys.exit(f"Explain did not get its data check from the bench's surfacing service: {text}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    builds: dict[str, Build] = {  # in dependency order: each is given the earlier ones' ports
        "causal": causal_build,
        "surfacing": surfacing_build,
        "llm": functools.partial(llm_build, settings=LlmSettings()),
    }
    answer = (
        "Meta retargeting increased revenue by about 12 in the randomised test. "
        "It drove a 60% lift in revenue. The interval is narrow."
    )
    with tempfile.TemporaryDirectory() as tmp, running_services(builds, Path(tmp)) as services:
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        llm = llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))
        ids = [
            analysis(causal, causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS, 1),
            analysis(causal, causal_pb.ESTIMATION_METHOD_NAIVE_REGRESSION, 2),
        ]
        for _ in range(20):  # warm both channels and servers
            causal.GetAnalysis(causal_pb.GetAnalysisRequest(org_id=ORG, analysis_id=ids[0]))
            list(llm.Explain(pb.ExplainRequest(org_id=ORG, analysis_id=ids[0])))
        require_checked(llm, ids[0])
        ref = []
        for _ in range(args.calls):
            start = time.perf_counter()
            causal.GetAnalysis(causal_pb.GetAnalysisRequest(org_id=ORG, analysis_id=ids[0]))
            ref.append(time.perf_counter() - start)
        print(f"reference: causal GetAnalysis           {ms(ref)}")
        for audience in (pb.AUDIENCE_EXECUTIVE, pb.AUDIENCE_ANALYST, pb.AUDIENCE_DATA_SCIENTIST):
            request = pb.ExplainRequest(org_id=ORG, analysis_id=ids[0], audience=audience)
            first, total = explain_times(llm, request, args.calls)
            name = pb.Audience.Name(audience).removeprefix("AUDIENCE_").lower()
            print(
                f"Explain {name:<15} first delta  {ms(first)}   ({statistics.median(first) / statistics.median(ref):.1f}× GetAnalysis)"
            )
            print(f"Explain {name:<15} total        {ms(total)}")
            figure(f"Explain time to first token, {name}", statistics.median(first) * 1e3, "ms",
                   reference="causal GetAnalysis", reference_value=statistics.median(ref) * 1e3,
                   target="≤ 100 ms", met=statistics.median(first) <= 0.1)  # fmt: skip
        request = pb.BuildContextRequest(org_id=ORG, analysis_ids=ids)
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            llm.BuildContext(request)
            times.append(time.perf_counter() - start)
        print(f"BuildContext (2 analyses)               {ms(times)}")
        text = " ".join(
            ["Meta retargeting drove a 12% lift in revenue.", "Email is correlated with sales."]
            * 10
        )
        request_c = pb.CheckClaimsRequest(org_id=ORG, text=text, analysis_ids=ids)
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            llm.CheckClaims(request_c)
            times.append(time.perf_counter() - start)
        print(f"CheckClaims (20 sentences, 2 analyses)  {ms(times)}")
        with fake_openai(Script(pieces=words(answer))) as fake:
            request = pb.ExplainRequest(
                org_id=ORG, analysis_id=ids[0], llm=pb.LlmEndpoint(url=fake.url, model="m")
            )
            first, total = explain_times(llm, request, max(20, args.calls // 4))
        print(
            f"Explain via a local instant LLM endpoint: first delta {ms(first)}; total {ms(total)}"
        )
        target = statistics.quantiles(first, n=20)[18]
    print(
        f"\ntarget: first delta ≤ 100 ms with the default writer (see the rows above); instant-LLM p95 {target * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
