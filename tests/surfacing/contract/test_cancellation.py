"""An abandoned call stops computing: Recommends whose deadline passes while their model runs
end DEADLINE_EXCEEDED, and the server's worker threads stop within a fraction of a second
instead of running the optimiser to the end (R1-F3: six abandoned calls made the next one
take 22 s instead of 6). The services run in this process, so its CPU is theirs."""

from __future__ import annotations

import time

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from mesh.runtime.cancellation import running_jobs
from tests.causal.attribution.records import world_mesh

ORG = "simshop"
# A Recommend on this world takes ~0.3 s since the optimiser's restart loop stopped running to
# its cap (R4-F13; ~3 s before), a little of it before its worker thread (reading the analysis
# from causal): a deadline at half the fastest of three measured calls passes inside the worker
# (half of the first call alone, which warms caches, let a later warm call finish in time).
DEADLINE_SHARE = 0.5
ABANDONED = 3
# Stopping takes one checkpoint (~1 ms apart), and the deadline reaches the server at most
# half a second after the client's; what is left is the servers' idle polling.
GRACE_S = 0.5
IDLE_CPU_S = 0.25


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}, surfacing=True) as services:
        yield services


@pytest.fixture(scope="module")
def analysis_id(mesh) -> str:
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    events = list(causal.AnalyzeAttribution(causal_pb.AnalyzeAttributionRequest(org_id=ORG),
                                            timeout=120))  # fmt: skip
    return events[-1].result.analysis_id


def _cpu_over(seconds: float) -> float:
    """CPU seconds this process (every thread: the servers' too) burns over ``seconds``."""
    before = time.process_time()
    time.sleep(seconds)
    return time.process_time() - before


def test_abandoned_recommends_stop_computing(mesh, analysis_id: str) -> None:
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))
    request = pb.RecommendRequest(org_id=ORG, analysis_ids=[analysis_id])
    took = []
    for _ in range(3):  # the first call also warms caches: the deadline is of a warm call
        started = time.perf_counter()
        stub.Recommend(request, timeout=120)
        took.append(time.perf_counter() - started)
    deadline = DEADLINE_SHARE * min(took)
    for _ in range(ABANDONED):
        with pytest.raises(grpc.RpcError) as info:
            stub.Recommend(request, timeout=deadline)
        assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    time.sleep(GRACE_S)
    # Before cancellation reached the threads, the three went on for seconds: ~1-2 CPU s here.
    burned = _cpu_over(1.0)
    assert burned < IDLE_CPU_S, f"the abandoned calls burned {burned:.2f} CPU s after leaving"
    assert running_jobs() == 0
    reply = stub.Recommend(request, timeout=120)  # the server answers a call that waits
    assert reply.recommendations
