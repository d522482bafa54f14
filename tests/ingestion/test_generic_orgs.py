"""A generic file that names its rows' org (R1-F7): `liftos simulate --orgs 2` writes one
orders.csv for both orgs, and README's `liftos ingest --org org_001 --source generic …` of it
lands org_001's rows and rejects org_002's (``wrong_account``, field ``org_id``), instead of
loading both into org_001 where rows of the same date and geo replaced each other."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from mesh import cli
from tests.ingestion.conftest import peers_of

MAPPING = "date=date,geo=region,conversions=orders,revenue=revenue,currency_code=currency"


@pytest.fixture(scope="module")
def two_orgs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("two_orgs")
    sim.write(sim.simulate("demo", seed=2, days=28, n_geos=3, n_orgs=2), out)
    return out


def _generic_rows(address: str, org: str) -> pd.DataFrame:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    request = memory_pb.ScanRequest(org_id=org, sources=[common_pb.DATA_SOURCE_GENERIC])
    try:
        records = [r for batch in stub.Scan(request) for r in batch.records]
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND  # the org holds nothing
        records = []
    return pd.DataFrame({"geo": [r.geo for r in records], "revenue": [r.revenue for r in records]})


def test_rows_of_another_org_are_rejected_and_the_orgs_own_land(
    services, two_orgs: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    orders = pd.read_csv(two_orgs / "orders.csv")
    assert set(orders["org_id"]) == {"org_001", "org_002"}
    own = orders[orders["org_id"] == "org_001"]
    argv = ["ingest", "--org", "org_001", "--source", "generic", "--account-id", "orders",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US",
            "--mapping", MAPPING, "--json", str(two_orgs / "orders.csv")]  # fmt: skip
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == len(orders)
    assert summary["written"] == summary["accepted"] == len(own)
    assert summary["rejected_by_reason"] == {"wrong_account": len(orders) - len(own)}
    first = summary["first_rejections"][0]
    assert "row of org 'org_002' in a batch for org 'org_001'" in first["message"]
    # org_001 holds exactly its own rows (the same date and geo no longer overwritten by
    # org_002's), and org_002 got nothing
    stored = _generic_rows(peers.memory, "org_001")
    assert len(stored) == len(own)
    assert stored["revenue"].sum() == pytest.approx(own["revenue"].sum(), abs=0.01)
    assert _generic_rows(peers.memory, "org_002").empty


def test_rows_without_an_org_column_are_the_batchs(
    services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """A file without the column, or a row with it empty, belongs to --org (as before)."""
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers_of(services).ingestion)
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "org_id,date,region,orders,revenue,currency\n"
        ",2024-09-01,NY,3,120.50,USD\n"
        "shop,2024-09-01,CA,2,80.00,USD\n"
        "other,2024-09-01,TX,1,10.00,USD\n"
    )
    argv = ["ingest", "--org", "shop", "--source", "generic", "--account-id", "orders",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US",
            "--pulled-at", "2024-10-01T00:00:00", "--mapping", MAPPING, "--json", str(orders)]  # fmt: skip
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 2 and summary["rejected_by_reason"] == {"wrong_account": 1}
    assert [(r["line"], r["field"]) for r in summary["first_rejections"]] == [(4, "org_id")]


def test_a_file_naming_only_other_orgs_is_refused_before_sending(
    services, two_orgs: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Re-audit R3-N3: a world simulated as org_001 and ingested as `--org acme` lost every
    order row (wrong_account) with exit status 0, while its platform files landed. The CLI
    now refuses the file up front and says the two ways out."""
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    argv = ["ingest", "--org", "acme", "--source", "generic", "--account-id", "orders",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US",
            "--mapping", MAPPING, str(two_orgs / "orders.csv")]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "names org_id org_001, org_002, not 'acme'" in err
    assert "--org org_001" in err and "drop its org_id column" in err
    assert _generic_rows(peers.memory, "acme").empty  # nothing was sent
