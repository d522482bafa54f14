"""R26-F3: experiments that share days and units. One of the same channel (drafts included)
is refused, naming both experiments, the shared units with each one's arm, the days and the
fix; one of another channel is registered with a warning; units both run as business as usual
(a multi-cell design's shared control) do not meet. `liftos experiments create` checks the
file against the registry before it sends; ingestion's CreateExperiment applies the same rule
(:func:`ingestion_svc.convert.experiments.overlap_check`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.app import build as ingestion_build
from ingestion_svc.convert.experiments import experiment_from_proto, overlap_check
from mesh.cli import commands
from mesh.cli.registry import experiment_from_entry
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.usual_days import ExperimentsOverlap

ORG = "org_001"
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _entry(eid: str, channel: str, treated: list[str], control: list[str], **kw: object) -> dict:
    entry: dict[str, object] = {
        "experiment_id": eid, "channel": channel, "start_date": "2025-01-13",
        "end_date": "2025-02-09", "treatment_units": treated, "control_units": control,
        "treatment_config": {"spend_multiplier": 0.0}, "control_config": {"spend_multiplier": 1.0},
    }  # fmt: skip
    entry.update(kw)
    return entry


# r26-a: Meta goes dark in TX and FL; CA and NY run as usual.
META = _entry("r26-a", "meta_prospecting", ["TX", "FL"], ["CA", "NY"])


@pytest.fixture()
def ingestion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningService]:
    with running_services({"ingestion": ingestion_build}, tmp_path) as services:
        monkeypatch.setenv("LIFTOS_INGESTION_ADDR", services["ingestion"].address)
        yield services["ingestion"]


def _create(tmp_path: Path, *entries: dict) -> int:
    path = tmp_path / f"e{len(list(tmp_path.glob('e*.json')))}.json"
    path.write_text(json.dumps(list(entries)))
    return commands.main(["experiments", "create", "--org", ORG, str(path)])


def _exists(ingestion: RunningService, eid: str) -> bool:
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(ingestion.address))
    try:
        stub.GetExperiment(ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id=eid))
    except grpc.RpcError as error:
        assert error.code() is grpc.StatusCode.NOT_FOUND
        return False
    return True


def test_a_same_channel_test_on_the_same_geos_and_days_is_refused(
    ingestion: RunningService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create(tmp_path, META) == 0  # a draft
    # r26-b: its control is r26-a's go-dark arm (spelled US-TX), a week later.
    later = _entry("r26-b", "meta_prospecting", ["US-CA"], ["US-TX"],
                   start_date="2025-01-20", end_date="2025-02-16")  # fmt: skip
    assert _create(tmp_path, later) == 2
    captured = capsys.readouterr()
    assert "r26-b: NOT registered" in captured.out
    assert (
        "experiment r26-b (meta_prospecting) overlaps experiment r26-a (meta_prospecting, "
        "draft, 2025-01-13..2025-02-09) runs on 21 days (2025-01-20..2025-02-09) of r26-b's "
        "days in 2 of its units, where one of them moves spend: US-CA (treatment here, "
        "control there), US-TX (control here, treatment there)"
    ) in captured.err
    assert "move one test's window off the other's" in captured.err
    assert not _exists(ingestion, "r26-b")


def test_another_channels_test_is_registered_with_a_warning(
    ingestion: RunningService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create(tmp_path, META) == 0
    search = _entry("r26-c", "google_search", ["CA", "FL"], ["TX", "NY"],
                    start_date="2025-02-01", end_date="2025-02-28")  # fmt: skip
    assert _create(tmp_path, search) == 0
    out = capsys.readouterr().out
    (warning,) = [line for line in out.splitlines() if "warning: r26-c" in line]
    assert (
        "experiment r26-a (meta_prospecting, draft, 2025-01-13..2025-02-09) runs on 9 days"
        in warning
    )
    assert "FL (treatment in both)" in warning and "TX (control here, treatment there)" in warning
    # NY is control (business as usual) in both: not a meeting unit.
    assert "in 3 of its units" in warning and "NY (" not in warning
    assert "CA (treatment here, control there)" in warning
    assert _exists(ingestion, "r26-c")


def test_a_shared_business_as_usual_control_does_not_meet(
    ingestion: RunningService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two cells of one design: disjoint treated geos, the same control run as usual.
    cell1 = _entry("d-cell1", "meta_prospecting", ["TX"], ["CA", "NY"])
    cell2 = _entry("d-cell2", "meta_prospecting", ["FL"], ["CA", "NY"],
                   treatment_config={"spend_multiplier": 2.0})  # fmt: skip
    assert _create(tmp_path, cell1, cell2) == 0
    assert "warning" not in capsys.readouterr().out
    # A cancelled draft never runs: nothing to meet.
    gone = _entry("gone", "meta_prospecting", ["CA"], ["TX"], status="cancelled")
    assert _create(tmp_path, gone) == 0
    assert _create(tmp_path, _entry("after", "meta_prospecting", ["CA"], ["TX"],
                                    start_date="2025-03-01", end_date="2025-03-28")) == 0  # fmt: skip


def _domain(entry: dict) -> tuple[object, md_pb.CausalExperiment]:
    wire = md_pb.CausalExperiment.FromString(bytes(experiment_from_entry(entry, ORG)))
    return experiment_from_proto(wire, NOW)


def test_the_registry_rule_refuses_the_same_channel_and_says_the_others() -> None:
    existing, _ = _domain(META)
    _, same = _domain(_entry("x", "meta_prospecting", ["NY"], ["FL"]))
    with pytest.raises(ExperimentsOverlap) as info:
        overlap_check(same, [existing])  # type: ignore[list-item]
    assert info.value.reason == "EXPERIMENTS_OVERLAP"
    assert "NY (treatment here, control there), FL (control here, treatment there)" in str(
        info.value
    )
    _, other = _domain(_entry("y", "tiktok", ["NY"], ["FL"]))
    (said,) = overlap_check(other, [existing])  # type: ignore[list-item]
    assert said.startswith("experiment r26-a (meta_prospecting, draft, 2025-01-13..2025-02-09)")
    # Hash-assigned (no unit lists): every unit may meet.
    _, hashed = _domain(_entry("z", "meta_prospecting", [], []))
    with pytest.raises(ExperimentsOverlap, match="assigns units by hashing"):
        overlap_check(hashed, [existing])  # type: ignore[list-item]


def test_allowing_the_overlap_registers_it_and_says_it(
    ingestion: RunningService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A past test registered again under another id (to analyse it anew) is allowed."""
    assert _create(tmp_path, META) == 0
    again = dict(META, experiment_id="r26-mirror")
    path = tmp_path / "again.json"
    path.write_text(json.dumps([again]))
    argv = ["experiments", "create", "--org", ORG, str(path)]
    assert commands.main(argv) == 2
    assert "--allow-overlap" in capsys.readouterr().err  # the fix names the way through
    assert commands.main([*argv, "--allow-overlap"]) == 0
    assert "warning: r26-mirror: experiment r26-a (meta_prospecting" in capsys.readouterr().out
    assert _exists(ingestion, "r26-mirror")
    existing, _ = _domain(META)
    _, mirror = _domain(again)
    (said,) = overlap_check(mirror, [existing], allow=True)  # type: ignore[list-item]
    assert "TX (treatment in both), FL (treatment in both)" in said
