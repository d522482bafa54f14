"""`liftos ingest` against real services: a platform export and a mapped CSV, table and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesh import cli
from tests.ingestion.conftest import peers_of


@pytest.fixture()
def env(services, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    monkeypatch.setenv("LIFTOS_MEMORY_ADDR", peers.memory)
    return services


def _head(src: Path, dst: Path, n: int) -> Path:
    dst.write_text("".join(src.read_text().splitlines(keepends=True)[:n]))
    return dst


def test_ingest_a_platform_export_prints_a_summary(
    env, world_dir: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    export = _head(world_dir / "tiktok.ndjson", tmp_path / "tiktok.ndjson", 2500)
    argv = ["ingest", "--org", "acme", "--source", "tiktok", "--accounts",
            str(world_dir / "accounts.json"), "--country", "US", "--pulled-at",
            "2025-01-13T09:00:00", str(export)]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "rows        2,500 in 3 batches" in out
    assert "accepted" in out and "mean causal quality score" in out
    assert cli.main([*argv[:-1], "--json", str(export)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["replayed_batches"] == 3 and summary["rows"] == 2500
    assert summary["accepted"] + summary["rejected"] == 2500
    for item in summary["first_rejections"]:
        assert item["line"] >= 1 and item["reason"] in summary["rejected_by_reason"]


def test_ingest_a_mapped_csv(env, world_dir: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["ingest", "--org", "acme", "--source", "generic", "--account-id", "shop",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US",
            "--mapping", "date=date,geo=region,conversions=orders,revenue=revenue,currency_code=currency",
            "--json", str(world_dir / "orders.csv")]  # fmt: skip
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == summary["written"] == 2400 and summary["rejected"] == 0


def test_ingest_reports_bad_arguments(env, world_dir: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit, match="bad --mapping entry"):
        cli.main(["ingest", "--org", "a", "--source", "generic", "--mapping", "when=date",
                  str(world_dir / "orders.csv")])  # fmt: skip
    # The server's field violations come back as a readable error (exit 2).
    code = cli.main(["ingest", "--org", "acme", "--source", "meta", str(world_dir / "meta.ndjson")])
    assert code == 2
    assert "account.timezone" in capsys.readouterr().err
