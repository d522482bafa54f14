"""liftos ingest of a JSON-lines file whose measures are text: --decimal reads them (it was
accepted and ignored for JSON: only a CSV's cells were read by it), and the SDK's refusals of
such a file under --sum-rows are errors, exit 2, not a traceback (s18 E3's patch). Over real
memory and ingestion servers."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
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

MAPPING = "date=Day,geo=Region,revenue=NetSales"
GERMAN = [("2024-10-01", "2.906"), ("2024-10-01", "1.500"), ("2024-10-02", "987")]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield {s: r.address for s, r in services.items()}


def _stored(address: str, org: str) -> dict[str, float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    try:
        records = [r for b in stub.Scan(memory_pb.ScanRequest(org_id=org)) for r in b.records]
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        return {}
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    return {
        dt.datetime.fromtimestamp(r.timestamp.seconds, zone).date().isoformat(): r.revenue
        for r in records
    }


def _ingest(path: Path, org: str, *flags: str) -> int | str | None:
    """liftos ingest's exit status (a refusal exits as the liftos process would)."""
    try:
        return cli.main(
            ["ingest", "--org", org, "--source", "generic", "--account-id", "shop",
             "--timezone", "Europe/Berlin", "--currency", "EUR", "--country", "DE", "--quiet",
             "--mapping", MAPPING, *flags, str(path)]
        )  # fmt: skip
    except SystemExit as exit:
        return exit.code


def _file(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "orders.jsonl"
    path.write_text(
        "".join(json.dumps({"Day": d, "Region": "DE-BY", "NetSales": v}) + "\n" for d, v in rows)
    )
    return path


def test_decimal_comma_reads_a_json_files_text_measures(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = _file(tmp_path, GERMAN)
    assert _ingest(path, "json-comma", "--sum-rows", "--decimal", ",") == 0
    assert _stored(mesh["memory"], "json-comma") == {"2024-10-01": 4406.0, "2024-10-02": 987.0}


def test_a_value_decimal_does_not_read_exits_2_naming_it(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = _file(tmp_path, [*GERMAN, ("2024-10-03", "12 EUR")])
    assert _ingest(path, "json-bad", "--sum-rows", "--decimal", ",") == 2
    err = capsys.readouterr().err
    assert f"error: {path}: row 3: NetSales (revenue) '12 EUR' is not a number" in err
    assert "Traceback" not in err
    assert _stored(mesh["memory"], "json-bad") == {}


def test_sum_rows_of_a_proved_grouped_column_exits_2(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = _file(tmp_path, [*GERMAN, ("2024-10-03", "1.234.567")])
    assert _ingest(path, "json-proved", "--sum-rows") == 2
    err = capsys.readouterr().err
    assert f"error: {path}: rows: NetSales (revenue) '1.234.567' is written with '.'" in err
    assert "decimal=','" in err and "Traceback" not in err
    assert _stored(mesh["memory"], "json-proved") == {}


def test_sum_rows_of_a_column_that_only_looks_grouped_warns_once(
    mesh: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    path = _file(tmp_path, GERMAN)
    assert _ingest(path, "json-doubt", "--sum-rows") == 0
    err = capsys.readouterr().err
    assert err.count("'2.906' meaning 2,906") == 1
    assert f"warning: {path}: rows: NetSales (revenue): every value with a '.'" in err
    assert _stored(mesh["memory"], "json-doubt") == {
        "2024-10-01": pytest.approx(4.406),
        "2024-10-02": 987.0,
    }
    # a CSV's doubt is said by liftos ingest itself, once: the SDK's is not repeated
    csv = tmp_path / "orders.csv"
    csv.write_text("Day,Region,NetSales\n" + "".join(f"{d},DE-BY,{v}\n" for d, v in GERMAN))
    assert _ingest(csv, "csv-doubt", "--sum-rows") == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "DecimalDoubt" not in err
