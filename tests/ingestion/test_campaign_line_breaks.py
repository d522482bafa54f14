"""A campaign name holding a line break or a tab (a quoted CSV cell, Excel's Alt+Enter) is the
name with a space there, not a row refused for control characters whose spend is lost; and a
refusal names a record spread over several lines by its first line, where the user finds it
(R30 F8). From a CSV through `liftos ingest` into a real memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.inprocess import RunningService, running_services

MEDIA = "date=date,geo=geo,campaign_id=campaign,spend=spend,channel=search"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


@pytest.fixture
def memory(mesh, monkeypatch: pytest.MonkeyPatch) -> object:  # type: ignore[no-untyped-def]
    for name in ("ingestion", "memory"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)
    return memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh["memory"].address))


def _ingest(org: str, path: Path) -> int:
    return cli.main(["ingest", "--org", org, "--source", "generic_media", "--account-id", org,
                     "--timezone", "UTC", "--currency", "USD", "--country", "US",
                     "--mapping", MEDIA, str(path)])  # fmt: skip


def test_a_name_over_two_lines_keeps_its_spend(
    memory: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "media.csv"
    path.write_bytes(
        b'date,geo,campaign,spend\n2024-01-01,NY,"Spring, ""sale""",10\n'
        b'2024-01-01,CA,"A\nB",20\n2024-01-01,TX,"Fall\r\n\tpromo",30\n2024-01-01,FL,plain,40\n'
    )
    assert _ingest("breaks", path) == 0
    out = capsys.readouterr().out
    assert "accepted    4" in out and "rejected" not in out.replace("rejected    0", ""), out
    batches = memory.Scan(memory_pb.ScanRequest(org_id="breaks"), timeout=30)  # type: ignore[attr-defined]
    stored = {(r.campaign_id, r.campaign_name, r.spend) for b in batches for r in b.records}
    assert stored == {
        ('Spring, "sale"', 'Spring, "sale"', 10.0),
        ("A B", "A B", 20.0),
        ("Fall promo", "Fall promo", 30.0),
        ("plain", "plain", 40.0),
    }


def test_a_refused_record_over_several_lines_is_named_by_its_first(
    memory: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "media.csv"
    # header line 1; NY line 2; the bad record lines 3-5; a blank line 6; TX line 7
    path.write_bytes(
        b"date,geo,campaign,spend\n2024-01-01,NY,a,10\n"
        b'2024-01-01,CA,"A\r\n\r\nB",ten\n\n2024-01-01,TX,"C\nD",-1\n'
    )
    assert _ingest("lines", path) == 0
    out = capsys.readouterr().out
    assert "e.g. line 3: spend" in out and "e.g. line 7: spend" in out, out
