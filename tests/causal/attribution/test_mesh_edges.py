"""Attribution at the edges of the data, over a real mesh (memory, the ingestion registry,
causal) and through the CLI: ad rows past the last orders day, analysis windows that end
inside a registered experiment, lift tests outside the data or absurdly precise, and
counterfactual periods and plans beyond what the model saw."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from mesh.cli.attribution import short
from mesh.cli.commands import main
from mesh.cli.demo_plan import Plan
from mesh.cli.demo_plan import attribution as demo_attribution
from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS
from tests.support import error_details

from .records import moved, register_holdout, world_mesh, world_records

ORG = "edgeshop"
# The same business, its ad export three days past the orders and one stray future-dated row.
LAGGED = "lagshop"
EXTRA_DAYS = 3
FUTURE = dt.date(2026, 2, 13)
# Deadlines tried in turn until one passes after the analysis reached its fits (the steps
# before them take longer on a loaded box); the workers are stopped, so a fit never ends.
MID_ANALYSIS_DEADLINES_S = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
# The analyses after it: under pytest's 300 s timeout, so a stuck one says what its workers do.
NEXT_ANALYSIS_S = 150.0


def _date(d: dt.date | str) -> common_pb.Date:
    d = dt.date.fromisoformat(str(d)[:10])
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def _range(a: dt.date | str, b: dt.date | str) -> common_pb.DateRange:
    return common_pb.DateRange(start_date=_date(a), end_date=_date(b))


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=10)


def _last_day(world: sim.SimResult) -> dt.date:
    return dt.date.fromisoformat(str(world.dates[-1])[:10])


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult):
    last = _last_day(world)
    media_last_day = [
        r for r in world_records(world, LAGGED)
        if r.data_source != common_pb.DATA_SOURCE_GENERIC
        and (r.local_date.year, r.local_date.month, r.local_date.day)
        == (last.year, last.month, last.day)
    ]  # fmt: skip
    after = [last + dt.timedelta(days=k) for k in range(1, EXTRA_DAYS + 1)]
    extra = {LAGGED: [*moved(media_last_day, after), *moved(media_last_day[:1], [FUTURE])]}
    data = tmp_path_factory.mktemp("mesh")
    with world_mesh(data, {ORG: world, LAGGED: world}, extra=extra) as services:
        for org in (ORG, LAGGED):
            register_holdout(grpc.insecure_channel(services["ingestion"].address), world, org)
        yield services


@pytest.fixture(scope="module")
def stub(mesh) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


def _analyze(stub, org: str = ORG, **kwargs) -> pb.AttributionResult:
    request = pb.AnalyzeAttributionRequest(org_id=org, **kwargs)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


@pytest.fixture(scope="module")
def plain(stub) -> pb.AttributionResult:
    return _analyze(stub)


@pytest.fixture
def cli_env(mesh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)


def test_media_past_the_last_outcome_day_is_left_out_and_said(
    plain, world: sim.SimResult, cli_env, capsys
) -> None:
    """An ad export three days past the orders (and a stray row a year out) leaves the panel
    on the orders' days: the same model as without those rows, and a warning counting them.
    Through `liftos analyze --json`, whose zero-valued fields print (proto3 JSON drops them)."""
    assert main(["analyze", "--org", LAGGED, "--json"]) == 0
    lagged = json.loads(capsys.readouterr().out)
    assert lagged["dayCount"] == plain.day_count == len(world.dates)
    assert lagged["dateRange"]["endDate"] == {"year": plain.date_range.end_date.year,
                                              "month": plain.date_range.end_date.month,
                                              "day": plain.date_range.end_date.day}  # fmt: skip
    last = _last_day(world)
    note = [w for w in lagged["warnings"] if w.startswith("media on ")]
    assert len(note) == 1, lagged["warnings"]
    assert f"media on {EXTRA_DAYS + 1} day(s) outside" in note[0]
    assert f"after it ({last + dt.timedelta(days=1)}..{FUTURE})" in note[0]
    # the model is the one fitted without the extra rows
    for ours, theirs in zip(lagged["channels"], plain.channels, strict=True):
        assert ours["channel"] == theirs.channel
        got = ours["incrementalOutcome"]
        want = theirs.incremental_outcome
        assert (got["estimate"], got["lower"], got["upper"]) == (
            want.estimate, want.lower, want.upper)  # fmt: skip
    # every interval prints all four numbers, zeros included (a lower bound held at 0)
    intervals = [c["incrementalOutcome"] for c in lagged["channels"]]
    assert all(set(i) == {"estimate", "lower", "upper", "level"} for i in intervals)
    assert any(i["lower"] == 0.0 for i in intervals)


def test_a_window_ending_inside_a_registered_experiment_skips_it(stub, world) -> None:
    """The registry's experiment runs to the data's last day; an analysis that ends ten days
    into it cannot see the rest of the days its lift sums over: skipped, and said."""
    e = world.experiments[0]
    end = dt.date.fromisoformat(str(e["start_date"])[:10]) + dt.timedelta(days=10)
    r = _analyze(stub, date_range=_range(world.dates[0], end))
    assert r.day_count == (end - dt.date.fromisoformat(str(world.dates[0])[:10])).days + 1
    skipped = [w for w in r.warnings
               if w.startswith(f"registry experiment {e['experiment_id']} not used")]  # fmt: skip
    assert len(skipped) == 1 and "not inside the analysed period" in skipped[0], r.warnings
    assert not r.calibration


@pytest.mark.parametrize(
    ("window", "stderr", "field"),
    [
        (("after", 20), 1e5, "calibration[0].window"),  # ends 8 days after the data
        (("2020-01-01", "2020-02-01"), 1e5, "calibration[0].window"),  # wholly before it
        (None, 1e-150, "calibration[0].lift_std_error"),  # 1/stderr² overflows
    ],
)
def test_request_lift_tests_the_data_cannot_hold_are_refused(
    stub, world, window, stderr: float, field: str
) -> None:
    last = _last_day(world)
    e = world.experiments[0]
    if window is None:
        span = _range(e["start_date"], e["end_date"])
    elif window[0] == "after":
        span = _range(last - dt.timedelta(days=11), last + dt.timedelta(days=8))
    else:
        span = _range(*window)
    test = md_pb.ExperimentResult(experiment_id="x", channel=e["channel"], window=span,
                                  lift_absolute=3e5, lift_std_error=stderr)  # fmt: skip
    with pytest.raises(grpc.RpcError) as info:
        _analyze(stub, calibration=[test])
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert field in error_details(info.value)[1]


def _counterfactual(stub, analysis_id: str, *changes: pb.SpendChange,
                    **kwargs) -> pb.CounterfactualResponse:  # fmt: skip
    return stub.Counterfactual(
        pb.CounterfactualRequest(org_id=ORG, analysis_id=analysis_id, changes=changes, **kwargs),
        timeout=120,
    )


@pytest.mark.parametrize(
    ("change", "period", "field"),
    [
        (pb.SpendChange(channel="tiktok", multiplier=2.0), ("2025-01-01", "2025-03-01"),
         "reference_period"),  # ends after the data
        (pb.SpendChange(channel="tiktok", multiplier=1e308), None, "changes[0].multiplier"),
        (pb.SpendChange(channel="tiktok", spend=1e300), None, "changes[0].spend"),
        (pb.SpendChange(channel="tiktok", spend=1e12), None, "changes[0].spend"),  # > 100×
    ],
)  # fmt: skip
def test_counterfactuals_beyond_the_data_are_refused(
    stub, plain, change: pb.SpendChange, period, field: str
) -> None:
    kwargs = {"reference_period": _range(*period)} if period else {}
    with pytest.raises(grpc.RpcError) as info:
        _counterfactual(stub, plain.analysis_id, change, **kwargs)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert field in error_details(info.value)[1]


def test_a_clipped_start_and_an_extrapolated_plan_are_said(stub, plain, world) -> None:
    first = dt.date.fromisoformat(str(world.dates[0])[:10])
    r = _counterfactual(stub, plain.analysis_id, pb.SpendChange(channel="tiktok", multiplier=3.0),
                        reference_period=_range("2024-01-01", first + dt.timedelta(days=9)))  # fmt: skip
    assert (r.evaluated_period.start_date.year, r.evaluated_period.start_date.month,
            r.evaluated_period.start_date.day) == (first.year, first.month, first.day)  # fmt: skip
    assert any("starts 2024-01-01, before the analysed period" in w for w in r.warnings)
    assert any(w.startswith("tiktok: the plan is 3.0×") and "extrapolation" in w
               for w in r.warnings), r.warnings  # fmt: skip


def test_the_cli_prints_the_changed_days_and_the_evaluated_period(
    plain, world, cli_env, capsys
) -> None:
    """A one-day change is read against its carry-over days: the CLI says which days those
    are, rather than a bare outcome that looks like the day's."""
    day = dt.date.fromisoformat(str(world.dates[0])[:10]) + dt.timedelta(days=16)
    rc = main(["counterfactual", plain.analysis_id, "--org", ORG, "--set", "meta_prospecting=0",
               "--start", str(day), "--end", str(day)])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    tail = plain.model.model_config.max_lag_days
    assert f"spend changed:     {day}..{day} (1 day)" in out
    assert (f"outcome counted:   {day}..{day + dt.timedelta(days=tail)} ({tail + 1} days; the "
            f"changed days and {tail} day(s) of carry-over after them)") in out  # fmt: skip


def test_the_cli_names_a_channel_without_spend_by_its_activity(plain, cli_env, capsys) -> None:
    """R20-F7: email's row read 'spend 0 → 0' beside its change in outcome."""
    (sends,) = [c.channel for c in plain.channels if c.channel.startswith("klaviyo_email")]
    assert main(["counterfactual", plain.analysis_id, "--org", ORG, "--set", f"{sends}=0.5",
                 "--set", "tiktok=2"]) == 0  # fmt: skip
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()
            if line.startswith("  ")}  # fmt: skip
    assert f"{sends:18s} (no spend) activity × 0.5: " in rows[sends]
    assert "spend 0 →" not in rows[sends] and "tiktok" in rows and " spend " in rows["tiktok"]


def test_the_cli_refuses_a_channel_set_twice(plain, cli_env, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["counterfactual", plain.analysis_id, "--org", ORG, "--set", "meta_prospecting=0",
              "--set", "meta_prospecting=2"])  # fmt: skip
    assert "--set names 'meta_prospecting' twice" in str(info.value.code)
    rc = main(["counterfactual", plain.analysis_id, "--org", ORG, "--set", "tiktok=0",
               "--spend", "tiktok=10"])  # fmt: skip
    assert rc == 2 and "both --set and --spend" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "field", "said"),
    [
        ({"channels": ["tiktok", "meta_prospecting", "tiktok"]}, "channels[2]", "listed twice"),
        ({"scope": 77}, "calibration[0].scope", "77 is not a liftos.v1.CalibrationScope value"),
        ({"unit": 9}, "calibration[0].unit", "9 is not a liftos.v1.RandomizationUnit value"),
    ],
)
def test_a_repeated_channel_or_an_undefined_enum_is_refused(
    stub, world, kwargs: dict, field: str, said: str
) -> None:
    """C's finding 8: a channel listed twice, or a lift test's scope 77 (proto3 keeps an
    unknown number as a plain int), used to run as if nothing were odd."""
    e = world.experiments[0]
    channels = kwargs.pop("channels", [])
    test = md_pb.ExperimentResult(experiment_id="x", channel=e["channel"],
                                  window=_range(e["start_date"], e["end_date"]),
                                  lift_absolute=3e5, lift_std_error=1e5, **kwargs)  # fmt: skip
    with pytest.raises(grpc.RpcError) as info:
        _analyze(stub, channels=channels, calibration=[test] if kwargs else [])
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert field in error_details(info.value)[1]
    assert said in str(info.value.details())


def test_a_counterfactual_changing_a_channel_twice_is_refused(stub, plain) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _counterfactual(stub, plain.analysis_id, pb.SpendChange(channel="tiktok", multiplier=2.0),
                        pb.SpendChange(channel="tiktok", spend=10.0))  # fmt: skip
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert "changes[1].channel" in error_details(info.value)[1]
    assert "changed twice" in str(info.value.details())


def test_the_cli_table_shows_the_intervals_and_the_lift_tests(plain, cli_env, capsys) -> None:
    """B's polish: `liftos analyze` printed the incremental outcome and the baseline without
    their intervals (the JSON has them) and never said which lift test calibrated what."""
    assert main(["analyze", "--org", ORG]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("channel "))
    table = lines[start : start + len(plain.channels) + 2]
    assert all(len(line) <= 120 for line in table if "(not identified)" not in line), table
    assert "incremental [90%]" in table[0]
    for c, line in zip(plain.channels, table[1:], strict=False):
        i = c.incremental_outcome
        assert line.startswith(c.channel)
        assert f"{i.estimate:,.0f} [{short(i.lower)}, {short(i.upper)}]" in line, line
    b = plain.baseline_outcome
    assert table[-1].startswith("baseline") and table[-1].endswith(
        f"{b.estimate:,.0f} [{short(b.lower)}, {short(b.upper)}]")  # fmt: skip
    # the registry's holdout calibrated the run: its line, with the channel's iROAS moved
    (check,) = plain.calibration
    channel = next(c for c in plain.channels if c.channel == check.channel)
    assert channel.HasField("uncalibrated_roas")
    want = (f"calibrated by {check.experiment_id} ({check.channel}): measured lift "
            f"{check.measured_lift:,.0f} ± {check.measured_std_error:,.0f} s.e.; model "
            f"{check.predicted_lift:,.0f} (without lift tests "
            f"{short(check.predicted_lift_uncalibrated)}); iROAS "
            f"{channel.uncalibrated_roas:.2f} → {channel.incremental_roas.estimate:.2f}")  # fmt: skip
    assert want in lines, [line for line in lines if "calibrated" in line]


def test_the_demo_table_shows_every_channel_the_analysis_scored(
    mesh, plain, world: sim.SimResult, tmp_path
) -> None:
    """B's finding: the demo's table left out klaviyo_email (sends, no spend, the largest
    share of the credit), so it listed 6 of the 7 channels the analysis line counted. A channel
    without spend is shown in outcome units beside the truth's incremental revenue."""
    (tmp_path / "truth.json").write_text(json.dumps(world.truth, default=str))
    (truth_org,) = world.truth["orgs"]
    printed: list[str] = []
    peers = PeerConfig.from_env().with_overrides(causal=mesh["causal"].address)
    with LiftOS(peers, org_id=ORG) as client:
        demo_attribution(client, tmp_path, truth_org, printed.append, Plan())
    header = next(i for i, line in enumerate(printed) if line.startswith("  channel "))
    rows = printed[header + 1 : header + 1 + len(plain.channels)]
    assert [row.split()[0] for row in rows] == [c.channel for c in plain.channels]
    unpaid = [c for c in plain.channels if not c.spend.amount]
    assert [c.channel for c in unpaid] == ["klaviyo_email"]
    (c,) = unpaid
    (row,) = [row for row in rows if row.split()[0] == c.channel]
    truth = world.truth["orgs"][truth_org]["channels"][c.channel][0]
    i = c.incremental_outcome
    assert f"{short(i.estimate)} [{short(i.lower)}, {short(i.upper)}] *" in row, row
    assert row.split()[-2 if c.identified else -4] == short(truth["expected_incremental_revenue"])
    assert any(line.startswith("  * no spend: incremental revenue") for line in printed)


def _pool_workers() -> list[int]:
    """The in-process causal pool's workers: the live children of this process's forkserver
    (only theirs: grandchildren of the test process may be other servers' processes)."""
    from multiprocessing import forkserver

    server = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):  # ended since the listing
            continue
        if server is not None and int(fields[1]) == server and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _states(pids: list[int]) -> str:
    """Each process's state letter and kernel wait channel, for a failure's message."""
    said = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            said.append(f"{pid} {state} {Path(f'/proc/{pid}/wchan').read_text() or '-'}")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            said.append(f"{pid} gone")
    return "; ".join(said)


@contextlib.contextmanager
def _stalled_workers() -> Iterator[list[int]]:
    """The pool's workers stopped with SIGSTOP for the block and continued after it: workers
    stalled by construction, as a swapped-out or wedged one is, that can neither take a task
    nor end one. Read until no other is left: a worker the pool was starting as /proc was
    read is frozen by the next read (a stopped worker takes no task, so none is replaced)."""
    frozen: list[int] = []
    try:
        while fresh := [pid for pid in _pool_workers() if pid not in frozen]:
            for pid in fresh:
                with contextlib.suppress(ProcessLookupError):  # ended since the read
                    os.kill(pid, signal.SIGSTOP)
            frozen.extend(fresh)
        yield frozen
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def test_a_deadline_mid_analysis_ends_it_and_frees_the_workers(stub, plain) -> None:
    """The fits start beside the confounder detectors: a deadline that passes while the fits
    run ends the call DEADLINE_EXCEEDED, and the next analyses find the workers free.

    "While the fits run" holds by construction, not by a deadline measured from an earlier
    call (R38-F2: the next one finished in time when the box got less loaded): every worker
    of the pool is stopped for the whole check, so no fit can end, and the call streams the
    steps before the fits and then waits on them until its deadline. A deadline that passes
    before the detectors end (a loaded box) is followed by a longer one; the workers stay
    stopped throughout, so none of those calls' fits ends either. `plain` started the pool."""
    before_fits = ["retrieve", "causal_graph", "confounders", "identification"]
    request = pb.AnalyzeAttributionRequest(org_id=ORG)
    with _stalled_workers() as frozen:
        assert frozen, "the causal pool has no workers"
        for deadline in MID_ANALYSIS_DEADLINES_S:
            stages: list[str] = []
            with pytest.raises(grpc.RpcError) as err:
                for event in stub.AnalyzeAttribution(request, timeout=deadline):
                    if event.WhichOneof("event") == "progress":
                        stages.append(event.progress.stage)
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err.value.details()
            assert stages == before_fits[: len(stages)], stages  # no fit ended: none could
            if stages == before_fits:  # the call was waiting on its fits when the deadline passed
                break
        else:
            pytest.fail(f"the analysis never reached its fits within a {deadline:g} s deadline")
    for _ in range(2):  # as many as the workers: a fit left running would hold one
        try:
            events = list(stub.AnalyzeAttribution(request, timeout=NEXT_ANALYSIS_S))
        except grpc.RpcError as exc:  # say what the workers were doing (s19's CI hang)
            raise AssertionError(f"{exc.code()}: workers {_states(_pool_workers())}") from exc
        assert events[-1].result.channels


def test_a_window_wider_than_the_data_is_said(stub, world) -> None:
    first = dt.date.fromisoformat(str(world.dates[0])[:10])
    last = dt.date.fromisoformat(str(world.dates[-1])[:10])
    r = _analyze(stub, date_range=_range(first - dt.timedelta(days=14),
                                         last + dt.timedelta(days=47)))  # fmt: skip
    (said,) = [w for w in r.warnings if w.startswith("the requested window")]
    assert "14 day(s) before" in said and "47 day(s) after" in said
    assert not [w for w in _analyze(stub).warnings if w.startswith("the requested window")]


def test_the_next_days_are_not_modelled_on_a_registered_holdout(
    plain, stub, world: sim.SimResult, cli_env, capsys
) -> None:
    """R10-F1: the history ends with the registered geo holdout of meta_prospecting (dark in
    half the geos). "The next 28 days without it" is modelled on the 28 days before the test,
    as PredictPerformance's business-as-usual spend is (mesh.runtime.usual_days), with a
    warning naming the days and the experiment — not on the holdout, which halved the loss."""
    e = world.experiments[0]
    start = dt.date.fromisoformat(e["start_date"][:10])
    assert dt.date.fromisoformat(e["end_date"][:10]) == _last_day(world)  # the holdout ends it
    cut = [pb.SpendChange(channel="meta_prospecting", multiplier=0.0)]
    future = stub.Counterfactual(pb.CounterfactualRequest(
        org_id=ORG, analysis_id=plain.analysis_id, future_days=28, changes=cut))  # fmt: skip
    holdout = stub.Counterfactual(pb.CounterfactualRequest(
        org_id=ORG, analysis_id=plain.analysis_id, changes=cut,
        reference_period=_range(start, _last_day(world))))  # fmt: skip
    before = start - dt.timedelta(days=28)
    p = future.evaluated_period
    assert (p.start_date.year, p.start_date.month, p.start_date.day) == (
        before.year, before.month, before.day)  # fmt: skip
    end = start - dt.timedelta(days=1)
    assert (p.end_date.year, p.end_date.month, p.end_date.day) == (end.year, end.month, end.day)
    (said,) = [w for w in future.warnings if e["experiment_id"] in w]
    assert (
        f"{before}..{end}" in said and "consecutive analysed days outside every registered" in said
    )
    # The template's spend is the channel's usual one, not the holdout's halved spend, and
    # the loss is accordingly larger than the holdout window's.
    assert future.channels[0].reference_spend > 1.5 * holdout.channels[0].reference_spend
    assert future.delta.estimate < 1.5 * holdout.delta.estimate < 0
    assert main(["counterfactual", plain.analysis_id, "--org", ORG, "--set",
                 "meta_prospecting=0", "--future-days", "28"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert f"the next 28 days, modelled on the analysed days {before}..{end}" in out
    assert "outcome as run:" not in out and "without the plan:" in out
    assert "the template days' outcome as run" in out and e["experiment_id"] in out
