"""Bounded, cancellable compute on a real causal service process (issue 13's findings):

- a long estimate whose client deadline passes ends DEADLINE_EXCEEDED at the client, and the
  service's process tree stops burning CPU within a second or two (it used to compute on, and
  log the call OK);
- the same when the client cancels;
- a saturated pool with a full queue answers RESOURCE_EXHAUSTED with RetryInfo;
- a runaway estimate is ended by the per-request compute budget (RESOURCE_EXHAUSTED, no retry);
- SIGTERM during a long estimate: the process exits once its grace period is over (it used to
  hang on the thread running the estimate until killed).

"The estimate runs" is an event (the pool's worker burns CPU; an idle one burns none), not a
CPU rate (R38-F3); CPU is read from /proc for the whole process tree with generous bounds;
nothing here asserts how fast an estimate is or how long a stop takes, beyond hang bounds.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as pb

from mesh.runtime.config import PeerConfig
from mesh.runtime.status import decode_status
from mesh.runtime.tables import frame_to_table
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure
from tests.causal.contract.service_process import CausalProcess, cpu_burned, tree_cpu, workers
from tests.support import error_details

# A busy worker burns about 1 CPU-second per second (half that if the machine is shared); an
# idle tree burns almost nothing. Anything under this over the window means the work stopped.
IDLE_CPU_S = 0.4
WINDOW_S = 2.0
SETTLE_S = 1.0  # time allowed for the stop itself (pebble polls every 0.1 s)
# Above the deadlines below (the budget starts after the call's deadline does, so a deadline
# under it ends a long estimate first); a budget still running it in the idle window is seen.
BUDGET_S = 10
# A deadline must pass while the estimate runs: on a loaded box the request may reach the
# worker only after the shorter ones, and the test then asks again with the next.
DEADLINES_S = (2.0, 4.0, 8.0)
HANG_S = 60.0  # only against a hang


def _panel(units: int = 200, periods: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    unit = np.repeat(np.arange(units), periods)
    day = np.tile(np.arange(periods), units)
    treated = (unit < units // 2) & (day >= periods * 2 // 3)
    y = rng.normal(size=unit.size) + 0.03 * day + 2.0 * treated
    return pd.DataFrame({"unit": unit, "day": day, "y": y, "d": treated.astype(np.int64)})


LONG_TABLE = frame_to_table(_panel())


def _long_request() -> pb.EstimateEffectRequest:
    """DiD on 20,000 rows with 1,000 draws per refuter: minutes of work, far past every test."""
    return pb.EstimateEffectRequest(
        org_id="acme",
        method=pb.ESTIMATION_METHOD_DID,
        table=LONG_TABLE,
        roles=pb.EffectRoles(outcome="y", treatment="d", unit="unit", time="day"),
        options=pb.EstimationOptions(refutation_simulations=1000, seed=1),
    )


def _quick_request() -> pb.EstimateEffectRequest:
    frame = _panel(20, 20)
    return pb.EstimateEffectRequest(
        org_id="acme",
        method=pb.ESTIMATION_METHOD_DID,
        table=frame_to_table(frame),
        roles=pb.EffectRoles(outcome="y", treatment="d", unit="unit", time="day"),
        options=pb.EstimationOptions(skip_refutation=True),
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    """One worker, one queue place, a 4 s compute budget."""
    svc = CausalProcess(
        tmp_path_factory.mktemp("causal-proc"),
        {"LIFTOS_CAUSAL_WORKERS": "1", "LIFTOS_CAUSAL_QUEUE": "1",
         "LIFTOS_CAUSAL_MAX_SECONDS": str(BUDGET_S)},
    )  # fmt: skip
    try:
        svc.stub.EstimateEffect(_quick_request(), timeout=120)  # workers warm
        yield svc
    finally:
        svc.stop()


def _assert_tree_goes_idle(svc: CausalProcess) -> None:
    time.sleep(SETTLE_S)
    burned = cpu_burned(svc.pid, WINDOW_S)
    assert burned < IDLE_CPU_S, (
        f"the service burned {burned:.2f} CPU-s over {WINDOW_S} s after the call ended"
    )


def _estimate_started(svc: CausalProcess, worker: int, cpu: float, call: grpc.Future) -> bool:
    """Whether the estimate ran in ``worker`` (the pool's one, idle at ``cpu`` CPU-s when the
    call was sent): its CPU rose — an idle worker burns none — or it was ended and replaced,
    which the pool does only to a worker running a task. Watched until the call ends."""
    while True:
        ended = call.done()
        now = workers(svc.pid)
        if now.get(worker, -1.0) != cpu:
            return True
        if ended:
            return False
        time.sleep(0.01)


def _idle_worker(svc: CausalProcess) -> tuple[int, float]:
    """The pool's one worker and its CPU-s, once a quick estimate has run: whatever an
    earlier call left in the pool is gone, the worker is free and its CPU steady."""
    assert svc.stub.EstimateEffect(_quick_request(), timeout=HANG_S).estimate.n > 0
    ((worker, cpu),) = workers(svc.pid).items()
    # the quick task's last ticks (its reply sent) must not read as the next task's start
    while True:
        time.sleep(0.1)
        if (now := workers(svc.pid)[worker]) == cpu:
            return worker, cpu
        cpu = now


def _wait_logged(svc: CausalProcess, line: str) -> None:
    deadline = time.monotonic() + HANG_S
    while line not in svc.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line in svc.log(), svc.log()[-2000:]


def test_deadline_stops_the_estimate(service: CausalProcess) -> None:
    for deadline in DEADLINES_S:
        worker, cpu = _idle_worker(service)
        call = service.stub.EstimateEffect.future(_long_request(), timeout=deadline)
        started = _estimate_started(service, worker, cpu, call)
        with pytest.raises(grpc.RpcError) as info:
            call.result()
        assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        if started:
            break
    else:
        pytest.fail(f"the estimate never reached the worker within a {deadline:g} s deadline")
    _assert_tree_goes_idle(service)
    _wait_logged(service, "EstimateEffect DEADLINE_EXCEEDED")


def test_client_cancel_stops_the_estimate(service: CausalProcess) -> None:
    worker, cpu = _idle_worker(service)
    call = service.stub.EstimateEffect.future(_long_request(), timeout=HANG_S)
    started = _estimate_started(service, worker, cpu, call)
    assert call.cancel()
    assert started, "the estimate ended before it ran"
    _assert_tree_goes_idle(service)
    _wait_logged(service, "EstimateEffect CANCELLED")
    # the terminated worker was replaced: the next estimate runs
    assert service.stub.EstimateEffect(_quick_request(), timeout=60).estimate.n > 0


def test_overload_is_resource_exhausted_with_retry_info(service: CausalProcess) -> None:
    running = service.stub.EstimateEffect.future(_long_request(), timeout=30)
    queued = service.stub.EstimateEffect.future(_long_request(), timeout=30)
    try:
        time.sleep(0.5)
        with pytest.raises(grpc.RpcError) as info:
            service.stub.EstimateEffect(_quick_request(), timeout=30)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_details(info.value)[0] == "COMPUTE_OVERLOADED"
        delay = decode_status(info.value).retry_after_s
        assert delay is not None and 0 < delay <= 30
    finally:
        running.cancel()
        queued.cancel()
    _assert_tree_goes_idle(service)


def test_an_analysis_without_room_is_refused_before_its_first_event(
    service: CausalProcess,
) -> None:
    """AnalyzeAttribution holds room for its concurrent fits from the start: with the one
    worker busy it is refused at once — no progress events, memory never read — instead of
    after streaming its first steps (the service has no memory peer at all here)."""
    worker, cpu = _idle_worker(service)
    running = service.stub.EstimateEffect.future(_long_request(), timeout=HANG_S)
    try:
        assert _estimate_started(service, worker, cpu, running), "the estimate ended before it ran"
        events: list[pb.AnalyzeAttributionResponse] = []
        with pytest.raises(grpc.RpcError) as info:
            for event in service.stub.AnalyzeAttribution(
                pb.AnalyzeAttributionRequest(org_id="acme"), timeout=30
            ):
                events.append(event)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
        assert error_details(info.value)[0] == "COMPUTE_OVERLOADED"
        assert events == []
    finally:
        running.cancel()
    _assert_tree_goes_idle(service)
    # with room, the same call gets past admission to its first peer (absent here)
    with pytest.raises(grpc.RpcError) as info:
        list(service.stub.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id="acme"),
                                             timeout=30))  # fmt: skip
    assert info.value.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()


def test_the_sdk_retries_an_analysis_refused_before_its_first_event(
    service: CausalProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal above carries RetryInfo and came before any event, so the SDK waits and
    asks again; once the worker is free the call gets past admission (and here fails on the
    absent memory peer, which is not retried)."""
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", f"127.0.0.1:{service.port}")
    busy = service.stub.EstimateEffect.future(_long_request(), timeout=2.0)
    time.sleep(0.5)
    with LiftOS(PeerConfig.from_env(), org_id="acme") as client, pytest.raises(RpcFailure) as info:
        client.analyze(timeout=30)
    assert info.value.code is not grpc.StatusCode.RESOURCE_EXHAUSTED, info.value
    with pytest.raises(grpc.RpcError):
        busy.result()
    calls = service.log().count("AnalyzeAttribution RESOURCE_EXHAUSTED")
    assert calls >= 1, service.log()[-2000:]
    _assert_tree_goes_idle(service)


def test_compute_budget_ends_a_runaway_estimate(service: CausalProcess) -> None:
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        service.stub.EstimateEffect(_long_request(), timeout=120)
    took = time.monotonic() - start
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
    assert error_details(info.value)[0] == "COMPUTE_BUDGET_EXCEEDED"
    assert f"{BUDGET_S} s" in info.value.details()
    assert took < 60  # stopped by the budget, long before the estimate would finish
    status = decode_status(info.value)
    assert status.carried and status.retry_after_s is None
    _assert_tree_goes_idle(service)


def _running(pids: set[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":
            out.append(pid)
    return out


def test_sigterm_during_a_long_estimate_exits_within_grace(tmp_path: Path) -> None:
    """The stop waits out the grace period (5 s) for in-flight calls, then ends the estimate
    (minutes of work) instead of waiting for it: HANG_S lies between the two."""
    svc = CausalProcess(tmp_path, {"LIFTOS_CAUSAL_WORKERS": "1"})
    try:
        worker, cpu = _idle_worker(svc)
        call = svc.stub.EstimateEffect.future(_long_request(), timeout=120)
        assert _estimate_started(svc, worker, cpu, call), "the estimate ended before it ran"
        tree = set(tree_cpu(svc.pid))  # server, forkserver, worker
        svc.proc.send_signal(signal.SIGTERM)
        try:
            code = svc.proc.wait(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            svc.proc.kill()
            pytest.fail(f"still running {HANG_S:g} s after SIGTERM: the stop waits for the "
                        f"estimate\n{svc.log()[-2000:]}")  # fmt: skip
        assert code == 0, svc.log()
        with pytest.raises(grpc.RpcError):
            call.result(timeout=10)
        # the forkserver and any worker follow the server out (zombies awaiting reaping burn
        # nothing and do not count)
        deadline = time.monotonic() + HANG_S
        while (alive := _running(tree)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive, f"processes of the service outlived it: {alive}"
    finally:
        svc.stop()
