"""`liftos experiments delete` / `liftos factors delete` (audit R40 F2) and `--json` of their
`list` verbs (R41 F7), over a real ingestion (and memory): refused without --yes away from a
terminal, listed by --dry-run, deleted with --yes, a name not registered said with what the
org does register and exit 1 (a typo must not read as erased, as memory and analyses delete;
s19 V2-F3), a second run too; the SDK splits a long id list into calls of 1,000."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

import sim
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk.client import LiftOS, dc
from tests.causal.contract.test_record_experiment_result import _experiment, _result
from tests.ingestion.conftest import peers_of

ORG = "client-z"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=1)


@pytest.fixture(autouse=True)
def peers(mesh: dict[str, RunningService], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ingestion", "memory"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)


def _register(mesh: dict[str, RunningService], world: sim.SimResult, org: str) -> None:
    with LiftOS(peers_of(mesh), org_id=org) as client:
        for eid in ("e1", "e2"):
            experiment = _experiment(world.experiments[0], eid, org=org)
            client.create_experiment(
                dc.CausalExperiment.parse(experiment.SerializeToString()), allow_overlap=True
            )
        client.record_experiment_result(
            "e1", dc.ExperimentResult.parse(_result(world, experiment_id="").SerializeToString())
        )
        days = {dt.date(2024, 9, 1) + dt.timedelta(days=k): float(k) for k in range(5)}
        client.register_external_factor("cci", "macro", days, unit="index")
        client.register_external_factor("promo", "promotion", dict.fromkeys(days, 1.0))


def _json_lines(out: str) -> list[dict[str, object]]:
    assert "NaN" not in out and "Infinity" not in out
    return [json.loads(line) for line in out.splitlines()]


def test_list_json_then_delete(
    mesh: dict[str, RunningService], world: sim.SimResult, capsys: pytest.CaptureFixture[str]
) -> None:
    _register(mesh, world, ORG)
    _register(mesh, world, "other-org")
    capsys.readouterr()

    assert cli.main(["experiments", "list", "--org", ORG, "--json"]) == 0
    listed = {str(e["experiment_id"]): e for e in _json_lines(capsys.readouterr().out)}
    assert set(listed) == {"e1", "e2"}
    e1, e2 = listed["e1"], listed["e2"]
    assert (e1["start_date"], e1["end_date"]) == ("2024-12-16", "2025-01-12")
    assert e1["channel"] == "meta_prospecting" and e1["randomization_unit"] == "geo"
    assert e2["result"] is None and e2["pre_period_start"] is None
    result = e1["result"]
    assert isinstance(result, dict)
    assert (result["lift_absolute"], result["lift_std_error"]) == (1000.0, 300.0)
    assert result["window_start"] == "2024-12-16" and result["analysis_id"] is None
    assert cli.main(["factors", "list", "--org", ORG, "--json"]) == 0
    factors = _json_lines(capsys.readouterr().out)
    assert factors == [
        {"name": "cci", "type": "macro", "geo": None, "unit": "index", "source": "",
         "first_date": "2024-09-01", "last_date": "2024-09-05", "value_count": 5},
        {"name": "promo", "type": "promotion", "geo": None, "unit": "", "source": "",
         "first_date": "2024-09-01", "last_date": "2024-09-05", "value_count": 5},
    ]  # fmt: skip

    delete = ["experiments", "delete", "--org", ORG]
    # neither ids nor --all, and both: refused before any call
    assert cli.main(delete) == 2
    assert "--all" in capsys.readouterr().err
    assert cli.main([*delete, "e1", "--all", "--yes"]) == 2
    capsys.readouterr()
    # not at a terminal and without --yes: listed, refused; --dry-run lists only
    assert cli.main([*delete, "e1"]) == 1
    out, err = capsys.readouterr()
    assert f"would delete 1 experiments of org {ORG}: e1" in out and "--yes" in err
    assert cli.main([*delete, "e1", "--dry-run"]) == 0
    assert "would delete 1 experiments" in capsys.readouterr().out
    assert cli.main(["experiments", "list", "--org", ORG]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    # a typo: nothing deleted, exit 1 naming the ids spelled alike (0 before s19 V2-F3)
    assert cli.main([*delete, "e1_typo", "--yes"]) == 1
    out, err = capsys.readouterr()
    assert "deleted 0 experiments" in out
    assert (f"error: not registered in org {ORG}: e1_typo (spelled alike: e1; the org registers "
            "e1, e2)") in err  # fmt: skip
    assert cli.main([*delete, "e1_typo", "--dry-run"]) == 1
    capsys.readouterr()
    # the registered one is deleted, the other still refused
    assert cli.main([*delete, "e1", "nope", "--yes"]) == 1
    out, err = capsys.readouterr()
    assert f"deleted 1 experiments of org {ORG}: e1" in out
    assert f"not registered in org {ORG}: nope (the org registers e2)" in err
    # run again: nothing left of it, said, exit 1 as analyses delete's re-run
    assert cli.main([*delete, "e1", "--yes"]) == 1
    out, err = capsys.readouterr()
    assert "deleted 0 experiments" in out and "not registered in org client-z: e1" in err
    assert cli.main([*delete, "--all", "--yes"]) == 0
    assert f"deleted 1 experiments of org {ORG}: e2" in capsys.readouterr().out
    assert cli.main(["experiments", "list", "--org", ORG, "--json"]) == 0
    assert capsys.readouterr().out == ""

    fdelete = ["factors", "delete", "--org", ORG]
    assert cli.main([*fdelete, "ccl", "--yes"]) == 1
    assert "not registered in org client-z: ccl (spelled alike: cci;" in capsys.readouterr().err
    assert cli.main([*fdelete, "cci", "--yes"]) == 0
    assert f"deleted 1 factors (1 series) of org {ORG}: cci" in capsys.readouterr().out
    assert cli.main([*fdelete, "--all", "--yes"]) == 0
    assert "deleted 1 factors (1 series)" in capsys.readouterr().out
    assert cli.main(["factors", "list", "--org", ORG, "--json"]) == 0
    assert capsys.readouterr().out == ""

    # the other org keeps its own
    with LiftOS(peers_of(mesh), org_id="other-org") as client:
        assert sorted(e.experiment_id for e in client.list_experiments()) == ["e1", "e2"]
        assert [s.name for s in client.list_external_factors()] == ["cci", "promo"]
        # more ids than one call takes: sent 1,000 a call, the replies joined
        ids = [f"x{k}" for k in range(1500)] + ["e2"]
        reply = client.delete_experiments(ids, dry_run=True)
        assert list(reply.deleted_ids) == ["e2"] and len(reply.not_found) == 1500
