"""An analysed experiment's result goes into the registry, and attribution is calibrated by it
(issue 15), over real servers on localhost: memory holding a simulated world's records, the
ingestion service's experiment registry, the causal service.

EstimateEffect(record_experiment_result) → RecordExperimentResult → GetExperiment /
ListExperiments show it → AnalyzeAttribution over the same org uses it as a lift test."""

from __future__ import annotations

import datetime as dt
import math

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.cli import commands as cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk.causal import Records
from mesh.sdk.client import LiftOS, dc
from mesh.sdk.failures import RpcFailure
from tests.causal.attribution.records import write_world
from tests.support import error_details

ORG, SMALL = "simshop", "smallshop"


def _date(d: dt.date | str) -> common_pb.Date:
    d = dt.date.fromisoformat(d) if isinstance(d, str) else d
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False)


@pytest.fixture(scope="module")
def small_world() -> sim.SimResult:
    """6 geos: the geo holdout's estimate fails its data-subset check on this one (seed 4; a
    subset keeps 2 geos per arm). Seed 0 at 10 geos failed only the placebo check's false
    failure, fixed in the refuters."""
    return sim.simulate("demo", seed=4, dirt=False, n_geos=6)


def _experiment(
    e: dict, experiment_id: str | None = None, org: str = ORG
) -> md_pb.CausalExperiment:
    return md_pb.CausalExperiment(
        org_id=org, experiment_id=experiment_id or e["experiment_id"], name=e["name"],
        start_date=_date(e["start_date"]), end_date=_date(e["end_date"]),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO, channel=e["channel"],
        treatment_units=e["treatment_units"], control_units=e["control_units"],
        treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT,
    )  # fmt: skip


def _load(services: dict, world: sim.SimResult, org: str = ORG) -> None:
    """The world's records into memory, its geo holdout into the registry."""
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    write_world(memory, world, org)
    ingestion = ingestion_grpc.IngestionServiceStub(
        grpc.insecure_channel(services["ingestion"].address)
    )
    experiment = _experiment(world.experiments[0], org=org)
    ingestion.CreateExperiment(ingestion_pb.CreateExperimentRequest(experiment=experiment))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult,
         small_world: sim.SimResult):  # fmt: skip
    with running_services(
        {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build},
        tmp_path_factory.mktemp("mesh"),
    ) as services:
        _load(services, world)
        _load(services, small_world, SMALL)
        yield services


@pytest.fixture(scope="module")
def causal(mesh) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


@pytest.fixture(scope="module")
def registry(mesh) -> ingestion_grpc.IngestionServiceStub:
    return ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))


def _estimate_request(e: dict, org: str = ORG) -> pb.EstimateEffectRequest:
    records = pb.RecordQuery(experiment_id=e["experiment_id"])
    records.date_range.start_date.CopyFrom(_date(e["pre_period_start"]))
    records.date_range.end_date.CopyFrom(_date(e["end_date"]))
    return pb.EstimateEffectRequest(
        org_id=org, method=pb.ESTIMATION_METHOD_AUTO, randomized=True, records=records,
        roles=pb.EffectRoles(outcome="revenue", treatment="treated_post", unit="geo", time="day"),
        options=pb.EstimationOptions(refutation_simulations=10),  # as the demo asks
        record_experiment_result=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def recorded(causal, world: sim.SimResult) -> pb.EstimateEffectResponse:
    return causal.EstimateEffect(_estimate_request(world.experiments[0]), timeout=120)


def test_estimate_records_the_result(recorded, causal, registry, world: sim.SimResult) -> None:
    e, truth = world.experiments[0], world.truth["experiments"][0]
    assert recorded.estimate.supported, list(recorded.estimate.warnings)
    r = recorded.recorded_result
    assert recorded.HasField("recorded_result")
    assert (r.experiment_id, r.org_id, r.channel) == (e["experiment_id"], ORG, e["channel"])
    assert r.analysis_id == recorded.analysis_id
    n_treated, n_control = len(e["treatment_units"]), len(e["control_units"])
    assert (r.treatment_unit_count, r.control_unit_count) == (n_treated, n_control)
    # the per treated geo-day effect × treated geo-days; the control went dark, so the
    # treated cell's spend as run is what the test's contrast removed
    days = (dt.date.fromisoformat(e["end_date"]) - dt.date.fromisoformat(e["start_date"])).days + 1
    assert r.lift_absolute == pytest.approx(recorded.estimate.point_estimate * n_treated * days)
    assert r.lift_std_error == pytest.approx(recorded.estimate.std_error * n_treated * days)
    assert r.spend.amount == pytest.approx(truth["spend_treated"], rel=1e-3)
    assert r.spend_delta == pytest.approx(-r.spend.amount) and r.spend_baseline == r.spend.amount
    assert r.incremental_roas.estimate == pytest.approx(r.lift_absolute / r.spend.amount)
    assert r.lift_interval.lower < r.lift_absolute < r.lift_interval.upper
    assert 0.0 <= r.confidence <= 1.0 and r.metric == common_pb.OUTCOME_METRIC_REVENUE
    # the simulator's true lift over the treated cell is inside a 3-se band of the record
    assert abs(r.lift_absolute - truth["incremental_revenue_treated"]) < 3 * r.lift_std_error
    got = registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id=e["experiment_id"])
    ).experiment
    assert got.result == r
    listed = registry.ListExperiments(ingestion_pb.ListExperimentsRequest(org_id=ORG))
    assert [x.result for x in listed.experiments if x.experiment_id == e["experiment_id"]] == [r]
    # the stored analysis keeps the request that recorded it
    stored = causal.GetAnalysis(
        pb.GetAnalysisRequest(org_id=ORG, analysis_id=recorded.analysis_id)
    ).analysis
    assert stored.request.record_experiment_result


def test_attribution_is_calibrated_by_the_recorded_result(
    recorded, causal, world: sim.SimResult
) -> None:
    e = world.experiments[0]
    result = None
    progress = []
    for event in causal.AnalyzeAttribution(pb.AnalyzeAttributionRequest(org_id=ORG), timeout=180):
        if event.WhichOneof("event") == "progress":
            progress.append(event.progress)
        else:
            result = event.result
    assert result is not None
    assert "1 lift tests" in progress[0].message
    (check,) = result.calibration
    assert check.experiment_id == e["experiment_id"] and check.channel == e["channel"]
    assert check.measured_lift == pytest.approx(recorded.recorded_result.lift_absolute)
    channel = next(c for c in result.channels if c.channel == e["channel"])
    assert channel.HasField("uncalibrated_roas")
    # calibration moved the channel: its iROAS is no longer the uncalibrated fit's
    assert channel.incremental_roas.estimate != pytest.approx(channel.uncalibrated_roas, rel=1e-3)
    # and toward the measured lift: the calibrated prediction of the test's cells is closer
    assert abs(check.predicted_lift - check.measured_lift) <= abs(
        check.predicted_lift_uncalibrated - check.measured_lift
    )


def test_an_estimate_that_failed_a_check_is_recorded_with_a_warning(
    causal, registry, small_world: sim.SimResult
) -> None:
    e = small_world.experiments[0]
    reply = causal.EstimateEffect(_estimate_request(e, SMALL), timeout=120)
    assert not reply.estimate.supported and reply.HasField("recorded_result")
    failed = [c.name for c in reply.estimate.checks if c.outcome == pb.CHECK_OUTCOME_FAILED]
    assert failed
    assert any(
        w.startswith("experiment result recorded although the estimate failed its checks (")
        and all(name in w for name in failed)
        and reply.analysis_id in w
        for w in reply.estimate.warnings
    )
    got = registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=SMALL, experiment_id=e["experiment_id"])
    ).experiment
    # At its own standard error, not widened for the failed check.
    assert got.result.analysis_id == reply.analysis_id
    assert got.result.lift_std_error == pytest.approx(reply.recorded_result.lift_std_error)
    assert got.result.lift_std_error > 0


def _result(world: sim.SimResult, **fields: object) -> md_pb.ExperimentResult:
    e = world.experiments[0]
    base: dict[str, object] = {
        "experiment_id": e["experiment_id"], "channel": e["channel"], "lift_absolute": 1000.0,
        "lift_std_error": 300.0, "spend_baseline": 800.0, "spend_delta": -800.0,
        "treatment_unit_count": 5, "control_unit_count": 5,
    }  # fmt: skip
    base.update(fields)
    window = base.pop("window", None)
    r = md_pb.ExperimentResult(**base)  # type: ignore[arg-type]
    if window is not None:
        r.window.start_date.CopyFrom(_date(window[0]))  # type: ignore[index]
        r.window.end_date.CopyFrom(_date(window[1]))  # type: ignore[index]
    return r


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lift_absolute": math.nan}, "result.lift_absolute"),
        ({"lift_std_error": math.inf}, "result.lift_std_error"),
        ({"spend_baseline": -math.inf}, "result.spend_baseline"),
        ({"lift_std_error": 0.0}, "result.lift_std_error"),
        ({"lift_std_error": -2.0}, "result.lift_std_error"),
        ({"spend_delta": 0.0}, "result.spend_delta"),
        ({"channel": "tiktok"}, "result.channel"),
        ({"window": ("2023-01-01", "2023-01-28")}, "result.window.start_date"),
        ({"window": ("END", "2099-01-01")}, "result.window.end_date"),
        ({"treatment_unit_count": -1}, "result.treatment_unit_count"),
        ({"control_unit_count": -3}, "result.control_unit_count"),
        ({"experiment_id": "exp_other"}, "result.experiment_id"),
        ({"confidence": 1.5}, "result.confidence"),
    ],
)  # fmt: skip
def test_record_refuses_bad_results_naming_the_field(
    registry, world: sim.SimResult, fields: dict, field: str
) -> None:
    e = world.experiments[0]
    if "window" in fields and fields["window"][0] == "END":
        fields = {"window": (e["end_date"], "2099-01-01")}
    with pytest.raises(grpc.RpcError) as info:
        registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
            org_id=ORG, experiment_id=e["experiment_id"], result=_result(world, **fields)
        ))  # fmt: skip
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_details(info.value)[1]


def test_record_unknown_experiment_is_not_found(registry, world: sim.SimResult) -> None:
    # an unknown id is NOT_FOUND; no id at all is a bad request naming the field
    for experiment_id, code in (("exp_nope", grpc.StatusCode.NOT_FOUND),
                                ("", grpc.StatusCode.INVALID_ARGUMENT)):  # fmt: skip
        with pytest.raises(grpc.RpcError) as info:
            registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
                org_id=ORG, experiment_id=experiment_id, result=_result(world, experiment_id="")
            ))  # fmt: skip
        assert info.value.code() is code
        if not experiment_id:
            assert "experiment_id" in info.value.details()


def test_record_replaces_and_fills_from_the_experiment(registry, world: sim.SimResult) -> None:
    """A second experiment (same design): an unset channel, window and ids come from it, and a
    later result replaces the earlier one."""
    e = world.experiments[0]
    registry.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            allow_overlap=True, experiment=_experiment(e, "exp_replace")
        )
    )
    first = registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
        org_id=ORG, experiment_id="exp_replace",
        result=_result(world, experiment_id="", channel=""),
    )).experiment  # fmt: skip
    assert first.result.channel == e["channel"] and first.result.org_id == ORG
    assert first.result.experiment_id == "exp_replace"
    assert first.result.window.start_date == _date(e["start_date"])
    assert first.name == e["name"] and list(first.treatment_units) == e["treatment_units"]
    second = registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
        org_id=ORG, experiment_id="exp_replace",
        result=_result(world, experiment_id="exp_replace", lift_absolute=2000.0,
                       window=(e["start_date"], e["end_date"])),
    )).experiment  # fmt: skip
    got = registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id="exp_replace")
    ).experiment
    assert got.result.lift_absolute == 2000.0 and got == second


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"data": "table"}, "record_experiment_result"),
        ({"experiment_id": ""}, "record_experiment_result"),
        ({"aggregation": pb.AGGREGATION_LEVEL_DAY}, "record_experiment_result"),
        ({"treatment": "spend"}, "record_experiment_result"),
        ({"outcome": "clicks"}, "record_experiment_result"),
        ({"experiment_id": "exp_unregistered"}, "records.experiment_id"),
    ],
)  # fmt: skip
def test_record_flag_refused_without_a_registered_geo_experiment(
    causal, world: sim.SimResult, change: dict, field: str
) -> None:
    request = _estimate_request(world.experiments[0])
    if change.get("data") == "table":
        request.table.row_count = 1
    if "experiment_id" in change:
        request.records.experiment_id = change["experiment_id"]
    if "aggregation" in change:
        request.records.aggregation = change["aggregation"]
    if "treatment" in change:
        request.roles.treatment = change["treatment"]
    if "outcome" in change:
        request.roles.outcome = change["outcome"]
    with pytest.raises(grpc.RpcError) as info:
        causal.EstimateEffect(request, timeout=60)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_details(info.value)[1]


def test_registry_unreachable_estimate_still_returns(tmp_path, world: sim.SimResult) -> None:
    """Ingestion answers the design read, then is unavailable when the result is written:
    the estimate returns (and is stored) with a warning that nothing was recorded."""

    def ingestion_going_down(config):  # type: ignore[no-untyped-def]
        bindings, on_stop = ingestion_build(config)

        async def down(request, context):  # type: ignore[no-untyped-def]
            await context.abort(grpc.StatusCode.UNAVAILABLE, "ingestion is shutting down")

        bindings[0].servicer.RecordExperimentResult = down
        return bindings, on_stop

    builds = {"memory": memory_build, "ingestion": ingestion_going_down, "causal": causal_build}
    with running_services(builds, tmp_path) as services:
        _load(services, world)
        stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        reply = stub.EstimateEffect(_estimate_request(world.experiments[0]), timeout=120)
        assert not reply.HasField("recorded_result")
        (warning,) = [w for w in reply.estimate.warnings if "not recorded" in w]
        assert "unavailable" in warning and "RecordExperimentResult" in warning
        stored = stub.GetAnalysis(
            pb.GetAnalysisRequest(org_id=ORG, analysis_id=reply.analysis_id)
        ).analysis
        assert warning in stored.estimate.warnings
        ingestion = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        got = ingestion.GetExperiment(ingestion_pb.GetExperimentRequest(
            org_id=ORG, experiment_id=world.experiments[0]["experiment_id"]
        )).experiment  # fmt: skip
        assert not got.HasField("result")


# -- the SDK and the CLI -------------------------------------------------------------------


@pytest.fixture
def peers(mesh, monkeypatch: pytest.MonkeyPatch) -> PeerConfig:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"].address)
    return PeerConfig.from_env()


def test_sdk_records_a_result_and_the_estimate_flag(
    peers: PeerConfig, registry, world: sim.SimResult
) -> None:
    e = world.experiments[0]
    registry.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            allow_overlap=True, experiment=_experiment(e, "exp_sdk")
        )
    )
    with LiftOS(peers, org_id=ORG) as client:
        stored = client.record_experiment_result(
            "exp_sdk",
            dc.ExperimentResult(lift_absolute=5000.0, lift_std_error=900.0,
                                spend_baseline=4000.0, spend_delta=-4000.0),
        )  # fmt: skip
        assert stored.result is not None and stored.result.channel == e["channel"]
        with pytest.raises(RpcFailure) as caught:
            client.record_experiment_result(
                "exp_sdk", dc.ExperimentResult(lift_absolute=1.0, lift_std_error=0.0,
                                               spend_delta=-1.0),
            )  # fmt: skip
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        records = Records(experiment_id=e["experiment_id"],
                          start=dt.date.fromisoformat(e["pre_period_start"]),
                          end=dt.date.fromisoformat(e["end_date"]))  # fmt: skip
        reply = client.estimate(
            records, outcome="revenue", treatment="treated_post", unit="geo", time="day",
            randomized=True, refutation_simulations=10, record_experiment_result=True,
        )  # fmt: skip
    assert reply.recorded_result is not None
    assert reply.recorded_result.analysis_id == reply.analysis_id


def test_cli_estimate_experiment_record(
    peers: PeerConfig, capsys: pytest.CaptureFixture, registry, world: sim.SimResult
) -> None:
    """--record stores the estimate; a second --record keeps the stored result (exit 1, both
    shown: B's M11, it silently replaced it and calibration followed) unless --replace."""
    e = world.experiments[0]
    registry.CreateExperiment(
        ingestion_pb.CreateExperimentRequest(
            allow_overlap=True, experiment=_experiment(e, "exp_cli")
        )
    )
    argv = ["estimate", "--experiment", "exp_cli", "--org", ORG,
            "--outcome", "revenue", "--randomized", "--simulations", "10",
            "--start", e["pre_period_start"], "--end", e["end_date"]]  # fmt: skip

    def stored() -> md_pb.ExperimentResult:
        return registry.GetExperiment(
            ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id="exp_cli")
        ).experiment.result

    assert cli.main([*argv, "--record"]) == 0
    out = capsys.readouterr().out
    first = stored()
    # What the spend did, in the analysis's sign convention (R5-F9): the treated cell ran at
    # its usual spend while the control went dark.
    assert (f"recorded as experiment exp_cli's result for {e['channel']}: the treated cell's "
            f"{abs(first.spend_delta):,.0f} of spend added {first.lift_absolute:,.0f} ± "
            f"{first.lift_std_error:,.0f} s.e. over ") in out  # fmt: skip
    assert "spend change" not in out
    assert first.analysis_id
    shown = (f"lift {first.lift_absolute:,.0f} ± {first.lift_std_error:,.0f} s.e., iROAS "
             f"{first.incremental_roas.estimate:.2f} [{first.incremental_roas.lower:.2f}, "
             f"{first.incremental_roas.upper:.2f}] (analysis {first.analysis_id})")  # fmt: skip

    assert cli.main([*argv, "--method", "did", "--record"]) == 1
    captured = capsys.readouterr()
    assert "recorded as" not in captured.out and "method     did" in captured.out
    assert f"experiment exp_cli already has a recorded result ({shown})" in captured.err
    assert "this estimate (did: " in captured.err and "--replace" in captured.err
    assert stored() == first  # kept

    assert cli.main([*argv, "--method", "did", "--record", "--replace"]) == 0
    captured = capsys.readouterr()
    assert "recorded as experiment exp_cli's result" in captured.out
    assert f"replaced the earlier result: {shown}" in captured.err
    assert stored().analysis_id not in ("", first.analysis_id)

    assert cli.main([*argv, "--json"]) == 0  # without --record nothing is recorded
    assert '"recorded_result": null' in capsys.readouterr().out
    assert cli.main(["estimate", "--org", ORG, "--outcome", "revenue", "--record"]) == 2


def test_cli_estimate_experiment_without_dates(
    peers: PeerConfig, capsys: pytest.CaptureFixture, world: sim.SimResult
) -> None:
    """B's M17: with no --start/--end every record was read; auto picked sdid, which refuses
    the untreated days after the test. The window is now the test and a pre-period as long."""
    e = world.experiments[0]
    start, end = dt.date.fromisoformat(e["start_date"]), dt.date.fromisoformat(e["end_date"])
    pre = start - (end - start + dt.timedelta(days=1))
    argv = ["estimate", "--experiment", e["experiment_id"], "--org", ORG, "--outcome", "revenue",
            "--no-checks"]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert (f"warning: records read from {pre} (a pre-period as long as the 28-day test: none is "
            f"registered) to {end} (the test's last day) for experiment "
            f"{e['experiment_id']!r}: the query set no date") in out  # fmt: skip
    assert "supported  " in out and "analysis id an-" in out


def test_a_failed_store_records_no_result_and_the_retry_records_it(
    mesh, causal, registry, small_world: sim.SimResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The analysis is stored before the registry hears of it (audit R19-F-RECORD): when the
    store fails (a full disk), no result names an analysis nobody can read, and the caller's
    retry records instead of being refused as 'already recorded'."""
    import sqlite3

    from causal_svc.analyses import AnalysisStore

    org = "fullshop"
    _load(mesh, small_world, org)
    e = small_world.experiments[0]
    asked = registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=org, experiment_id=e["experiment_id"])
    )

    def full(self: AnalysisStore, analysis: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(AnalysisStore, "put", full)
        with pytest.raises(grpc.RpcError):
            causal.EstimateEffect(_estimate_request(e, org), timeout=120)
    got = registry.GetExperiment(
        ingestion_pb.GetExperimentRequest(org_id=org, experiment_id=e["experiment_id"])
    ).experiment
    assert not got.HasField("result") and not asked.experiment.HasField("result")
    reply = causal.EstimateEffect(_estimate_request(e, org), timeout=120)
    assert reply.HasField("recorded_result")
    stored = causal.GetAnalysis(
        pb.GetAnalysisRequest(org_id=org, analysis_id=reply.recorded_result.analysis_id)
    ).analysis
    # the warnings the recording added are in the stored analysis as in the reply
    assert list(stored.estimate.warnings) == list(reply.estimate.warnings)
    assert any(
        w.startswith("experiment result recorded although") for w in stored.estimate.warnings
    )
