"""`liftos analyses --org A --host H delete --all --yes`: flags written before `delete` reach the
delete (V2-F1, s19). argparse let the delete subparser's own defaults overwrite them, so with
LIFTOS_ORG=B the delete erased org B's analyses and exited 0, and --host/--base-port fell back to
the default mesh. Real memory, ingestion and causal servers."""

from __future__ import annotations

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from mesh import cli
from mesh.cli.commands import _peers, build_parser
from mesh.runtime.inprocess import running_services
from tests.causal.attribution.records import causal_build, ingestion_build, memory_build
from tests.causal.contract.test_list_analyses import _estimate


def _ids(stub: causal_grpc.CausalServiceStub, org: str) -> set[str]:
    return {a.analysis_id for a in stub.ListAnalyses(pb.ListAnalysesRequest(org_id=org)).analyses}


def test_the_org_written_before_delete_is_the_one_deleted(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path) as services:
        for name in ("ingestion", "memory", "causal"):
            monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", services[name].address)
        stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        _estimate(stub, "org_a", 1)
        b = _estimate(stub, "org_b", 2)
        monkeypatch.setenv("LIFTOS_ORG", "org_b")
        assert cli.main(["analyses", "--org", "org_a", "delete", "--all", "--yes"]) == 0
        assert "org org_a" in capsys.readouterr().out
        assert _ids(stub, "org_a") == set()
        assert _ids(stub, "org_b") == {b}


def test_mesh_flags_before_delete_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    for argv in (
        ["analyses", "--host", "10.1.1.1", "--base-port", "61000", "delete", "--org", "a", "--all"],
        ["analyses", "delete", "--org", "a", "--all", "--host", "10.1.1.1", "--base-port", "61000"],
    ):
        ns = build_parser(argv[0]).parse_args(argv)
        assert ns.func.__name__ == "run_delete" and ns.org == "a"
        assert _peers(ns).causal == "10.1.1.1:61002", argv


def test_a_delete_names_its_org(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Never the listing's 'default' org: without --org or LIFTOS_ORG the delete is refused."""
    monkeypatch.delenv("LIFTOS_ORG", raising=False)
    assert cli.main(["analyses", "delete", "--all", "--yes", "--base-port", "1"]) == 2
    assert "--org is required" in capsys.readouterr().err
