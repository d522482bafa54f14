"""A result recorded while another is being recorded is kept unless the caller replaces it
(audit R24-F1): the registry decides when it writes, in one compare-and-set, not the CLI
minutes earlier. Real memory, ingestion registry and causal service on localhost."""

from __future__ import annotations

import datetime as dt
import threading

import grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb

import sim
from mesh.runtime.config import PeerConfig
from mesh.sdk.causal import Records
from mesh.sdk.client import LiftOS
from tests.causal.contract import test_record_experiment_result as base

ORG, _experiment, _result = base.ORG, base._experiment, base._result
# the module's mesh (memory with a simulated world, the registry, causal) and its stubs
mesh, peers, registry = base.mesh, base.peers, base.registry
world, small_world = base.world, base.small_world


def _stored(registry, experiment_id: str):  # type: ignore[no-untyped-def]
    return registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id=experiment_id)
    ).experiment.result


def test_recorders_that_keep_a_result_never_both_succeed(registry, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    e = world.experiments[0]
    registry.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            allow_overlap=True, experiment=_experiment(e, "exp_keep_race")
        )
    )
    outcomes: dict[int, grpc.StatusCode] = {}
    start = threading.Barrier(8)

    def record(k: int) -> None:
        request = ingestion_pb.RecordExperimentResultRequest(
            org_id=ORG, experiment_id="exp_keep_race", result=_result(world, experiment_id="",
            lift_absolute=1000.0 + k), keep_existing=True,
        )  # fmt: skip
        start.wait()
        try:
            registry.RecordExperimentResult(request, timeout=30)
            outcomes[k] = grpc.StatusCode.OK
        except grpc.RpcError as error:
            outcomes[k] = error.code()
            # refused on the read (it has a result) or on the write (one landed in between)
            said = error.details()
            assert "exp_keep_race" in said and (
                "already has a recorded result" in said or "a result was recorded" in said
            ), said

    threads = [threading.Thread(target=record, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [k for k, code in outcomes.items() if code is grpc.StatusCode.OK]
    assert len(won) == 1, outcomes
    assert sorted(c.name for c in outcomes.values()) == ["FAILED_PRECONDITION"] * 7 + ["OK"]
    assert _stored(registry, "exp_keep_race").lift_absolute == 1000.0 + won[0]

    # without the condition the contract is unchanged: the later result replaces
    registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
        org_id=ORG, experiment_id="exp_keep_race", result=_result(world, experiment_id="",
        lift_absolute=7.0)), timeout=30)  # fmt: skip
    assert _stored(registry, "exp_keep_race").lift_absolute == 7.0


def test_an_estimate_keeps_a_result_recorded_while_it_fit(
    peers: PeerConfig, registry, world: sim.SimResult
) -> None:
    """The CLI found no result (estimate --record without --replace); an outside lift test
    is recorded before the estimate's own record step: the registry keeps it, the estimate
    returns with recorded_result unset and a warning naming the stored result."""
    e = world.experiments[0]
    registry.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            allow_overlap=True, experiment=_experiment(e, "exp_keep_est")
        )
    )
    registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
        org_id=ORG, experiment_id="exp_keep_est", result=_result(world, experiment_id="",
        lift_absolute=900_000.0, lift_std_error=150_000.0)), timeout=30)  # fmt: skip
    records = Records(experiment_id="exp_keep_est",
                      start=dt.date.fromisoformat(e["pre_period_start"]),
                      end=dt.date.fromisoformat(e["end_date"]))  # fmt: skip
    with LiftOS(peers, org_id=ORG) as client:
        reply = client.estimate(
            records, outcome="revenue", treatment="treated_post", unit="geo", time="day",
            randomized=True, refutation_simulations=10, record_experiment_result=True,
            keep_recorded_result=True,
        )  # fmt: skip
    assert reply.recorded_result is None
    (warning,) = [w for w in reply.estimate.warnings if "already has a recorded result" in w]
    assert "exp_keep_est" in warning and "lift 900,000 ± 150,000" in warning
    assert "--replace" in warning
    assert _stored(registry, "exp_keep_est").lift_absolute == 900_000.0


def test_replace_still_replaces(peers: PeerConfig, registry, world: sim.SimResult) -> None:
    """--replace sends no condition: the estimate replaces the stored result, as before."""
    e = world.experiments[0]
    registry.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            allow_overlap=True, experiment=_experiment(e, "exp_keep_replace")
        )
    )
    registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
        org_id=ORG, experiment_id="exp_keep_replace", result=_result(world, experiment_id="")),
        timeout=30)  # fmt: skip
    records = Records(experiment_id="exp_keep_replace",
                      start=dt.date.fromisoformat(e["pre_period_start"]),
                      end=dt.date.fromisoformat(e["end_date"]))  # fmt: skip
    with LiftOS(peers, org_id=ORG) as client:
        reply = client.estimate(
            records, outcome="revenue", treatment="treated_post", unit="geo", time="day",
            randomized=True, refutation_simulations=10, record_experiment_result=True,
        )  # fmt: skip
    assert reply.recorded_result is not None
    assert _stored(registry, "exp_keep_replace").analysis_id == reply.analysis_id
