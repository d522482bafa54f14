"""`liftos experiments` and `liftos factors`: the README flow registers the world's experiment
and the org's external series from the simulator's files, over a real ingestion service; a bad
entry or row is refused with where and why before anything is sent."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from liftos.v1 import marketing_data_pb2 as md_pb

import sim
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.cli import commands
from mesh.cli.registry import RegistryFileError, read_experiments, read_factors
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk.client import LiftOS, dc

ORG = "org_001"


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    sim.write(sim.simulate("demo", seed=1, days=60), out)
    return out


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[dict[str, RunningService]]:
    with running_services({"memory": memory_build, "ingestion": ingestion_build}, tmp_path) as s:
        yield s


def _env(monkeypatch: pytest.MonkeyPatch, services: dict[str, RunningService]) -> PeerConfig:
    for name, s in services.items():
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", s.address)
    return PeerConfig.from_env()


def test_the_readme_flow_registers_the_worlds_files(
    world_dir: Path,
    services: dict[str, RunningService],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    peers = _env(monkeypatch, services)
    exp_file, factors = world_dir / "experiments.json", world_dir / "external_factors.csv"
    assert commands.main(["experiments", "create", "--org", ORG, str(exp_file)]) == 0
    assert commands.main(["factors", "register", "--org", ORG, str(factors)]) == 0
    assert commands.main(["experiments", "list", "--org", ORG]) == 0
    assert commands.main(["factors", "list", "--org", ORG]) == 0
    out = capsys.readouterr().out
    assert "exp_org_001_001" in out and "meta_prospecting" in out
    truth = json.loads((world_dir / "truth.json").read_text())
    series = truth["orgs"][ORG]["demand"]["params"]["series"]
    with LiftOS(peers, org_id=ORG) as client:
        (exp,) = list(client.list_experiments())
        assert (exp.channel, len(exp.treatment_units), exp.randomization_unit.name) == (
            "meta_prospecting", 10, "GEO",
        )  # fmt: skip
        listed = {s.name: s for s in client.list_external_factors(include_values=True)}
    assert set(listed) == {
        "consumer_confidence",
        "competitor_activity",
        "promotions",
        "gift_season",
        "fx_eur_usd",  # the TikTok account bills in EUR: its rate to the org's USD
    }
    accounts = json.loads((world_dir / "accounts.json").read_text())
    (tiktok,) = [a for a in accounts if a["org_id"] == ORG and a["source"] == "tiktok"]
    fx = listed["fx_eur_usd"]
    assert (fx.type, fx.unit) == (md_pb.EXTERNAL_FACTOR_TYPE_FX_RATE, "USD per EUR")
    # The rate's quote direction is said as it is registered (s17 R31: a rate entered as EUR
    # per USD, 0.93 for 1.08, was as plausible a number and went unsaid).
    rate = tiktok["fx_to_org_currency"]
    last = truth["dates"][-1][:10]
    assert f"    read as 1 EUR = {rate:.4g} USD on {last}; a rate quoted the other way " in out
    assert (
        "(EUR per USD) is wrong here: register its reciprocal, or name the series fx_usd_eur" in out
    )
    assert [v.value for v in fx.values] == [tiktok["fx_to_org_currency"]] * len(truth["dates"])
    # The CSV round-trips the simulator's floats exactly.
    assert [v.value for v in listed["consumer_confidence"].values] == series["macro_index"]
    assert [v.value for v in listed["promotions"].values] == [float(x) for x in series["promo"]]


def test_the_exports_carry_their_pull_time(world_dir: Path) -> None:
    """`liftos ingest` takes an export's pull time from its file: the simulator stamps every
    file with the pull the manifest names, so the README's ingest refuses rows dated after it."""
    manifest = json.loads((world_dir / "manifest.json").read_text())
    pulled = dt.datetime.fromisoformat(manifest["pulled_at"])
    last = dt.date.fromisoformat(manifest["start"]) + dt.timedelta(days=manifest["days"] - 1)
    assert pulled == dt.datetime.combine(last + dt.timedelta(days=1), dt.time(9), dt.UTC)
    for name in ("meta.ndjson", "orders.csv", "external_factors.csv"):
        assert os.stat(world_dir / name).st_mtime == pulled.timestamp(), name


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"experiment_id": "e", "start_date": "2024-13-01", "end_date": "2024-12-31"},
         "x.json[0].start_date: '2024-13-01' is not a date"),
        ({"experiment_id": "e", "start_date": "2024-12-01", "end_date": "2024-12-31",
          "randomization_unit": "household"}, "x.json[0].randomization_unit: 'household' is not one of"),
        ({"experiment_id": "e", "start_date": "2024-12-01", "end_date": "2024-12-31",
          "org_id": "other"}, "x.json[0].org_id: 'other' is not --org 'org_001'"),
        ({"start_date": "2024-12-01", "end_date": "2024-12-31"}, "x.json[0].experiment_id: required"),
        ({"experiment_id": "e", "start_date": "2024-12-01", "end_date": "2024-12-31",
          "control_config": {"spend_multiplier": -1}}, "control_config.spend_multiplier: -1"),
        ({"experiment_id": "e", "start_date": "2024-12-01", "end_date": "2024-12-31",
          "treatment_units": "CA"}, "treatment_units: must be a list of strings"),
    ],
)  # fmt: skip
def test_a_bad_experiment_entry_is_named(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(RegistryFileError, match=None) as error:
        read_experiments(path, ORG)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("date,name,value\n2024-12-01,a,1\n", "column(s) kind missing"),
        ("date,name,kind,value\n2024-12-01,a,weather,1\n2024-12-02,a,lunar,1\n",
         "x.csv line 3: kind: 'lunar' is not one of"),
        ("date,name,kind,value\n2024-12-01,a,macro,nan\n", "x.csv line 2: value 'nan' is not finite"),
        ("date,name,kind,value\n2024-12-01,a,macro,1\n2024-12-01,a,macro,2\n",
         "x.csv line 3: 'a' has 2024-12-01 twice"),
        ("date,name,kind,value\n2024-12-01,a,macro,1\n2024-12-02,a,season,1\n",
         "x.csv line 3: 'a' is 'season' here and 'macro' above"),
        ("org_id,date,name,kind,value\nother,2024-12-01,a,macro,1\n", "no rows for org 'org_001'"),
        ("date,name,kind,value\n12/01/2024,a,macro,1\n", "x.csv line 2: date: '12/01/2024' is not a date"),
        # the unit says the values are EUR per USD, the name USD per EUR (s17 R31)
        ("date,name,kind,value,unit\n2024-12-01,fx_eur_usd,fx_rate,0.93,EUR per USD\n",
         "x.csv line 2: unit 'EUR per USD' is the other quote direction from the name "
         "'fx_eur_usd', which is USD per EUR (1 EUR = x USD): name the series fx_usd_eur, or "
         "enter USD per EUR (the reciprocals) with unit 'USD per EUR'"),
    ],
)  # fmt: skip
def test_a_bad_factor_row_is_named(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(rows)
    with pytest.raises(RegistryFileError) as error:
        read_factors(path, ORG)
    assert message in str(error.value)


def test_the_cli_refuses_a_bad_file_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No mesh runs here: a refused file must not reach the network at all."""
    path = tmp_path / "x.csv"
    path.write_text("date,name,kind,value\n2024-12-01,a,macro,oops\n")
    assert commands.main(["factors", "register", "--org", ORG, str(path), "--base-port", "1"]) == 2
    assert "x.csv line 2: value 'oops' is not a number" in capsys.readouterr().err
    missing = tmp_path / "none.json"
    assert commands.main(["experiments", "create", "--org", ORG, str(missing)]) == 2
    assert "none.json" in capsys.readouterr().err


def test_experiment_entries_keep_every_field(world_dir: Path) -> None:
    (exp,) = read_experiments(world_dir / "experiments.json", ORG)
    assert exp.treatment_type == dc.TreatmentType.HOLDOUT
    assert exp.status == dc.ExperimentStatus.COMPLETED
    assert exp.data_sources == [dc.DataSource.META] and len(exp.campaign_ids) == 4
    assert exp.control_config is not None and exp.control_config.spend_multiplier == 0.0


def test_org_comes_from_liftos_org_or_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("org_id,date,name,kind,value\nshop_001,2024-12-01,a,macro,oops\n")
    monkeypatch.delenv("LIFTOS_ORG", raising=False)
    with pytest.raises(SystemExit, match="--org is required"):
        commands.main(["factors", "register", str(path)])
    monkeypatch.setenv("LIFTOS_ORG", "shop_001")  # the row is read as shop_001's, and refused
    assert commands.main(["factors", "register", str(path), "--base-port", "1"]) == 2
    assert "value 'oops' is not a number" in capsys.readouterr().err
