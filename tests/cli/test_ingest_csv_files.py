"""`liftos ingest` of the CSV files Excel writes (audit R18 #9), over real memory and
ingestion servers: "CSV UTF-8" starts with a byte-order mark, which was glued to the first
column's name ("no such column ﻿Day" while the list showed Day); "CSV (Comma delimited)" is
cp1252 on Windows, and one accented name crashed the command with a UnicodeDecodeError."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.inprocess import running_services

ROWS = "date,state,cost,campaign\n2024-01-01,CA,100.5,Télé 1\n2024-01-02,CA,80,Télé 1\n"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        yield {s: r.address for s, r in services.items()}


def _argv(org: str, path: Path, *extra: str) -> list[str]:
    return ["ingest", "--org", org, "--source", "generic_media", "--account-id", "tv",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US", "--quiet",
            "--mapping", "date=date,geo=state,spend=cost,campaign_name=campaign,channel=tv",
            *extra, str(path)]  # fmt: skip


def _names(address: str, org: str) -> list[str]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    try:
        scan = stub.Scan(memory_pb.ScanRequest(org_id=org))
        return sorted(r.campaign_name for batch in scan for r in batch.records)
    except grpc.RpcError as err:  # an org nothing was stored for
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        return []


def test_a_utf8_file_with_excel_s_byte_order_mark_is_read(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "tv_bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ROWS.encode("utf-8"))
    assert cli.main(_argv("bom", path)) == 0
    assert _names(mesh["memory"], "bom") == ["Télé 1", "Télé 1"]


def test_a_cp1252_file_is_refused_naming_the_line_and_read_with_its_encoding(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = tmp_path / "tv_cp1252.csv"
    path.write_bytes(ROWS.encode("cp1252"))
    assert cli.main(_argv("win", path)) == 2  # refused before anything is sent
    err = capsys.readouterr().err
    assert f"{path} is not UTF-8 text: byte 0xe9 on line 2" in err
    assert "--encoding cp1252" in err and "Traceback" not in err
    assert _names(mesh["memory"], "win") == []
    assert cli.main(_argv("win", path, "--encoding", "cp1252")) == 0
    assert _names(mesh["memory"], "win") == ["Télé 1", "Télé 1"]
    assert cli.main(_argv("win", path, "--encoding", "klingon")) == 2
    assert "--encoding klingon: no such text encoding" in capsys.readouterr().err


def test_a_correction_older_than_the_stored_pull_is_told_about_pulled_at(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """(audit R18 #10) A corrected file keeps an old modification time (cp -p, rsync -a, an
    unzipped attachment): its rows were refused as 'version 1735646400000000 is not newer than
    the stored 1796629633527801', naming neither a time nor --pulled-at."""
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    bad = tmp_path / "tv.csv"
    bad.write_text(ROWS.replace("100.5", "10050"))
    assert cli.main(_argv("late", bad)) == 0
    fixed = tmp_path / "tv_fixed.csv"
    fixed.write_text(ROWS)
    old = dt.datetime(2024, 12, 31, 12, tzinfo=dt.UTC).timestamp()
    os.utime(fixed, (old, old))
    capsys.readouterr()
    assert cli.main(_argv("late", fixed)) == 0  # the unchanged row is a duplicate
    out, err = capsys.readouterr()
    assert "stale_version" in out and "this pull (2024-12-31 12:00:00 UTC) is not later" in out
    assert "--pulled-at" in out and "version 1735646400000000" not in out
    assert "tv_fixed.csv 2024-12-31 12:00 UTC" in err and "again with --pulled-at 20" in err
    assert _spend(mesh["memory"], "late") == 10050 + 80
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cli.main(_argv("late", fixed, "--pulled-at", later)) == 0
    assert "--pulled-at" not in capsys.readouterr().err
    assert _spend(mesh["memory"], "late") == 100.5 + 80


def _spend(address: str, org: str) -> float:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    return sum(r.spend for b in stub.Scan(memory_pb.ScanRequest(org_id=org)) for r in b.records)
