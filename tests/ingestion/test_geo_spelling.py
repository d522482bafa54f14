"""One region written two ways is one geo (R30 F6): outside the US and Canada a region name in
another Unicode normal form (NFD "São Paulo", as macOS and some exports write it) or another
case ("SÃO PAULO") was stored as another geo, so the media on it never met the orders and
every channel's return came out 2.5-3x the truth. From the user's CSVs through `liftos ingest`
into a real memory; the geos are read back from memory."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import grpc
import pandas as pd
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.inprocess import RunningService, running_services

STATES = ["São Paulo", "Paraná", "Ceará", "Goiás", "Rio de Janeiro", "Bahia"]
DAYS = pd.date_range("2024-03-01", periods=3).strftime("%Y-%m-%d")


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


def _write(path: Path, states: list[str], column: str) -> Path:
    rows = [(d, s, 10 + i) for i, (d, s) in enumerate((d, s) for d in DAYS for s in states)]
    frame = pd.DataFrame(rows, columns=["date", "state", column])
    if column == "revenue":
        frame["orders"] = 1
    frame.to_csv(path, index=False)
    return path


def _ingest(org: str, source: str, mapping: str, path: Path, country: str = "BR") -> int:
    return cli.main(["ingest", "--org", org, "--source", source, "--account-id", f"{org}-{source}",
                     "--timezone", "UTC", "--currency", "USD", "--country", country,
                     "--mapping", mapping, str(path)])  # fmt: skip


def _geos(memory: object, org: str, channel: str) -> set[str]:
    batches = memory.Scan(memory_pb.ScanRequest(org_id=org), timeout=30)  # type: ignore[attr-defined]
    return {r.geo for b in batches for r in b.records if r.channel == channel}


ORDERS = "date=date,geo=state,conversions=orders,revenue=revenue,channel=first_party"
MEDIA = "date=date,geo=state,campaign_id=state,spend=spend,channel=search"


@pytest.mark.parametrize(
    "spelling",
    [lambda s: unicodedata.normalize("NFD", s), str.upper, str.lower],
    ids=["nfd", "upper", "lower"],
)
def test_media_in_another_form_of_the_name_lands_on_the_orders_geos(
    memory: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spelling: object,
    request: pytest.FixtureRequest,
) -> None:
    org = f"br_{request.node.callspec.id}"
    orders = _write(tmp_path / "orders.csv", STATES, "revenue")
    assert _ingest(org, "generic", ORDERS, orders) == 0
    written = [spelling(s) for s in STATES]  # type: ignore[operator]
    assert written != STATES
    media = _write(tmp_path / "media.csv", written, "spend")
    assert _ingest(org, "generic_media", MEDIA, media) == 0
    # one region whatever the spelling: its ISO 3166-2 code (s18 R34 F4; was "BR-São Paulo")
    want = {f"BR-{s}" for s in ("SP", "PR", "CE", "GO", "RJ", "BA")}
    assert _geos(memory, org, "first_party") == want
    assert _geos(memory, org, "search") == want
    # the orders as they were stored are unchanged by the new spelling rule: re-sent, duplicates
    # (a later pull of the same export: a new batch, the same rows)
    os.utime(orders, (orders.stat().st_atime, orders.stat().st_mtime + 3600))
    capsys.readouterr()
    assert _ingest(org, "generic", ORDERS, orders) == 0
    out = capsys.readouterr().out
    assert f"duplicates {len(STATES) * len(DAYS)}" in out and "restatements 0" in out, out


def test_a_canadian_province_in_nfd_capitals_is_its_code(memory: object, tmp_path: Path) -> None:
    media = _write(tmp_path / "media.csv", [unicodedata.normalize("NFD", "QUÉBEC")], "spend")
    assert _ingest("ca_nfd", "generic_media", MEDIA, media, country="CA") == 0
    assert _geos(memory, "ca_nfd", "search") == {"CA-QC"}
