"""`liftos analyses delete` and what `liftos memory delete` says it leaves (audit R40-F1/F2/F5),
over real memory, ingestion and causal servers: analyses are counted, asked for, deleted and
gone from the listing; an id not stored exits 1; a records delete names the stored analyses
that read the deleted days (and, org-wide, the registry's series) with the commands that delete
them; a records delete that matches nothing exits 1 naming the account spelled alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from mesh import cli
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService
from mesh.sdk.client import LiftOS
from tests.causal.attribution.records import world_mesh
from tests.causal.contract.test_list_analyses import _estimate

ORG = "client-z"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=6, days=150)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        yield services


@pytest.fixture(autouse=True)
def peers(mesh: dict[str, RunningService], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ingestion", "memory", "causal"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)


@pytest.fixture(scope="module")
def stub(mesh: dict[str, RunningService]) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


@pytest.fixture(scope="module")
def attribution(stub: causal_grpc.CausalServiceStub) -> causal_pb.AttributionResult:
    request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


def _listed(capsys: pytest.CaptureFixture[str]) -> set[str]:
    assert cli.main(["analyses", "--org", ORG, "--limit", "100"]) == 0
    return {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}


def test_analyses_are_counted_asked_for_and_deleted(
    stub: causal_grpc.CausalServiceStub, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = _estimate(stub, ORG, 1), _estimate(stub, ORG, 2)
    delete = ["analyses", "delete", "--org", ORG, one]
    # not at a terminal and without --yes: counted, refused
    assert cli.main(delete) == 1
    out, err = capsys.readouterr()
    assert f"would delete 1 stored analyses of org {ORG}" in out and one in out
    assert "re-run with --yes" in err
    assert cli.main([*delete, "--dry-run"]) == 0
    assert {one, two} <= _listed(capsys)
    # neither ids nor --all, or both: refused before any call
    assert cli.main(["analyses", "delete", "--org", ORG, "--yes"]) == 2
    assert cli.main(["analyses", "delete", "--org", ORG, "--all", one, "--yes"]) == 2
    capsys.readouterr()

    assert cli.main([*delete, "--yes"]) == 0
    assert f"deleted 1 stored analyses of org {ORG}" in capsys.readouterr().out
    listed = _listed(capsys)
    assert one not in listed and two in listed
    # a retry, or a typo: nothing of that id is stored, exit 1 naming it
    assert cli.main([*delete, "--yes"]) == 1
    assert f"org {ORG} has no stored analysis {one}" in capsys.readouterr().err
    with LiftOS(PeerConfig.from_env(), org_id=ORG) as client:  # the SDK, by id
        assert list(client.delete_analyses([two]).deleted_ids) == [two]
        assert list(client.delete_analyses([two]).not_found) == [two]


def test_a_delete_matching_nothing_exits_1_naming_the_account_spelled_alike(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["memory", "delete", "--org", ORG]
    for extra in (["--account-id", " SIM ", "--yes"], ["--account-id", "Sim", "--dry-run"],
                  ["--source", "generic_media", "--account-id", "sim", "--yes"]):  # fmt: skip
        assert cli.main([*base, *extra]) == 1, extra
        out, err = capsys.readouterr()
        assert "deleted 0 records" in out or "would delete 0 records" in out
        assert f"error: no record of org {ORG} matches" in err
        assert "--source meta --account-id 'sim'" in err and "records, 20" in err
    # an account spelled like none: where the accounts are listed
    assert cli.main([*base, "--account-id", "nobody", "--yes"]) == 1
    assert f"`liftos memory accounts --org {ORG}` lists its" in capsys.readouterr().err


def test_a_records_delete_names_the_analyses_and_series_it_leaves(
    attribution: causal_pb.AttributionResult,
    stub: causal_grpc.CausalServiceStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inline = _estimate(stub, ORG, 3)  # read no records: not named
    kept = attribution.analysis_id
    with LiftOS(PeerConfig.from_env(), org_id=ORG) as client:
        client.register_external_factor("promo", "promotion", {dt.date(2024, 1, 1): 1.0})
    assert cli.main(["memory", "delete", "--org", ORG, "--source", "meta", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would keep: 1 stored analyses of org {ORG}" in out and kept in out
    assert cli.main(["memory", "delete", "--org", ORG, "--source", "meta", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"kept: 1 stored analyses of org {ORG}, which read records of 20" in out
    assert f"  delete them: liftos analyses delete --org {ORG} {kept}\n" in out
    assert inline not in out and "factors delete" not in out  # an account's delete

    assert cli.main(["memory", "delete", "--org", ORG, "--all-records", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "read records of every day" in out and kept in out and inline not in out
    assert f"delete them: liftos analyses delete --org {ORG} --all" in out
    factors = f"kept: 1 external-factor series of org {ORG}: liftos factors delete --org {ORG}"
    assert f"{factors} --all" in out
    assert "experiments delete" not in out  # the org registered none

    assert cli.main(["analyses", "delete", "--org", ORG, "--all", "--yes"]) == 0
    assert f"deleted 2 stored analyses of org {ORG}" in capsys.readouterr().out
    assert _listed(capsys) == set()
