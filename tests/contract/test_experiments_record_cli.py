"""`liftos experiments record`: a lift test run outside LiftOS (R4-F9: grpcurl was the only way
to record one) becomes the registered experiment's result, over a real ingestion service; the
registry's own refusals come back naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.cli import commands
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk.client import LiftOS

ORG = "acme"
EXPERIMENT = {
    "experiment_id": "search-golift-1", "name": "search go-dark", "start_date": "2024-09-02",
    "end_date": "2024-09-29", "treatment_type": "geo_holdout", "randomization_unit": "geo",
    "channel": "google_search", "status": "completed",
}  # fmt: skip


@pytest.fixture()
def peers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PeerConfig]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path) as services:  # type: ignore[arg-type]
        for name, s in services.items():
            monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", s.address)
        yield PeerConfig.from_env()


def test_a_lift_test_run_elsewhere_is_recorded(
    peers: PeerConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "experiments.json"
    file.write_text(json.dumps([EXPERIMENT]))
    assert commands.main(["experiments", "create", "--org", ORG, str(file)]) == 0
    argv = ["experiments", "record", "search-golift-1", "--org", ORG, "--lift", "195563",
            "--lift-se", "40000", "--spend-delta", "-97781", "--treatment-units", "6",
            "--control-units", "6"]  # fmt: skip
    assert commands.main(argv) == 0
    out = capsys.readouterr().out
    # A go-dark's spend change and its lift as what the spend did (R5-F9).
    assert (
        "the 97,781 of spend the test cut from the treated cell was adding 195,563 revenue ± "
        "40,000 s.e." in out
    )
    assert "no treated geos registered" in out
    with LiftOS(peers, org_id=ORG) as client:
        stored = client.get_experiment("search-golift-1").result
    assert stored is not None and stored.channel == "google_search"
    assert (stored.lift_absolute, stored.lift_std_error, stored.spend_delta) == (
        195563.0, 40000.0, -97781.0)  # fmt: skip
    assert (stored.treatment_unit_count, stored.control_unit_count) == (6, 6)

    # what the registry refuses comes back with the field; a bad SE is refused up front
    def changed(flag: str, value: str) -> list[str]:
        return [value if i and argv[i - 1] == flag else a for i, a in enumerate(argv)]

    assert commands.main(changed("--spend-delta", "0")) != 0
    assert "spend_delta" in capsys.readouterr().err
    assert commands.main(changed("--lift-se", "0")) == 2
    assert "--lift-se must be a positive number" in capsys.readouterr().err


def test_a_result_after_every_row_is_recorded_with_a_warning_and_one_not_yet_run_refused(
    peers: PeerConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """R5-F7: a result for a test whose whole window is after the org's newest row was
    accepted without a word. It is still accepted (the test ran; its rows may come later),
    with a warning naming the window and the newest row; a window that has not ended by
    today is no measured result and is refused naming the field."""
    import grpc
    from liftos.v1 import memory_pb2 as memory_pb
    from liftos.v1 import memory_pb2_grpc as memory_grpc

    from tests.surfacing.worlds import geo_history, history_records

    history = geo_history(n_geos=2, n_days=30, seed=1)  # 2024-01-01..2024-01-30
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(peers.memory))
    memory.Write(iter([memory_pb.WriteRequest(org_id=ORG, records=history_records(history, ORG))]))
    later = {**EXPERIMENT, "experiment_id": "later", "start_date": "2024-02-10",
             "end_date": "2024-03-09"}  # fmt: skip
    covered = {**EXPERIMENT, "experiment_id": "covered", "start_date": "2024-01-10",
               "end_date": "2024-02-09"}  # fmt: skip
    future = {**EXPERIMENT, "experiment_id": "future", "start_date": "2099-01-01",
              "end_date": "2099-02-01"}  # fmt: skip
    file = tmp_path / "experiments.json"
    file.write_text(json.dumps([later, covered, future]))
    assert commands.main(["experiments", "create", "--org", ORG, str(file)]) == 0
    capsys.readouterr()

    def record(experiment_id: str) -> int:
        return commands.main(["experiments", "record", experiment_id, "--org", ORG, "--lift",
                              "1000", "--lift-se", "400", "--spend-delta", "-2000"])  # fmt: skip

    assert record("later") == 0
    err = capsys.readouterr().err
    assert ("org 'acme' holds no row on or after the test's window 2024-02-10..2024-03-09 "
            "(its newest row is 2024-01-30)") in err  # fmt: skip
    assert record("covered") == 0
    assert "holds no row" not in capsys.readouterr().err
    assert record("future") != 0
    err = capsys.readouterr().err
    assert "result.window" in err and "ends 2099-02-01, after today" in err
    with LiftOS(peers, org_id=ORG) as client:
        assert client.get_experiment("future").result is None
        assert client.get_experiment("later").result is not None
