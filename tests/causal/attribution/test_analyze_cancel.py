"""A client that cancels AnalyzeAttribution stops the confounder detectors the service runs in
its threads (audit R7-F7, R36-F3): a cancelled task cannot stop a thread, so the service hands
the detectors a cancel token and cancels it when the call ends, however it ends. The detectors'
own checkpoints are tested in tests/causal/test_confounders_cancel.py; this tests that the
service sets the token, over a real mesh (memory, ingestion, causal) in this process.

The budget-response detector is watched, not replaced: a hook around it says when the server
has entered it, then waits at checkpoints (as the detector's loops do) until the token says
stop, and runs the real detector if it never does. Nothing here reads a clock to pass: the
waits are bounds on how long to look before failing."""

from __future__ import annotations

import threading
import time
from typing import Any

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from causal_svc import confounders_retro
from mesh.runtime.cancellation import Cancelled, checkpoint, running_jobs

from .records import world_mesh

ORG = "cancelshop"
# How long to look for each event before the test fails (the server's own steps take well
# under a second each here); the hook gives up and runs the detector after as long.
LOOK_S = 60.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=6, days=150)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        yield services


def _wait_until(condition: Any, seconds: float) -> bool:
    stop = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > stop:
            return False
        time.sleep(0.02)
    return True


def test_a_cancelled_analysis_cancels_the_detectors_token(
    mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = confounders_retro.budget_response_finding
    entered, stopped = threading.Event(), threading.Event()

    def watched(*args: Any, **kwargs: Any) -> tuple[str, float | None]:
        entered.set()
        give_up = time.monotonic() + LOOK_S
        while time.monotonic() < give_up:
            try:
                checkpoint()
            except Cancelled:
                stopped.set()
                raise
            time.sleep(0.01)
        return real(*args, **kwargs)

    monkeypatch.setattr(confounders_retro, "budget_response_finding", watched)
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    call = stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=ORG), timeout=300)
    first = next(call)
    assert first.progress.stage == "retrieve"
    assert entered.wait(LOOK_S), "the server never reached the budget-response detector"
    assert running_jobs() >= 1  # the detector's thread, counted while it runs
    call.cancel()
    with pytest.raises(grpc.RpcError) as err:
        list(call)
    assert err.value.code() is grpc.StatusCode.CANCELLED
    # The call's end reaches the thread through the token: its next checkpoint raises.
    assert stopped.wait(LOOK_S), "the detector's token was not cancelled when the call ended"
    # and no work of the abandoned call is left in the service's threads
    assert _wait_until(lambda: running_jobs() == 0, LOOK_S), f"{running_jobs()} jobs left"
