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
    argv = ["ingest", "--org", "org_001", "--source", "tiktok", "--accounts",
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
    # the world's org: orders.csv names it in its org_id column (another org's rows are refused)
    argv = ["ingest", "--org", "org_001", "--source", "generic", "--account-id", "shop",
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
    # The server's field violations come back as a readable error (exit 1, refused:
    # mesh.cli.exits; 2 before s19 R41-F1).
    code = cli.main(["ingest", "--org", "acme", "--source", "meta", str(world_dir / "meta.ndjson")])
    assert code == 1
    assert "account.timezone" in capsys.readouterr().err


_MAPPING = "date=date,geo=region,conversions=orders,revenue=revenue,currency_code=currency"
_GENERIC = ["ingest", "--org", "acme", "--source", "generic", "--account-id", "shop",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US",
            "--pulled-at", "2024-10-01T00:00:00"]  # fmt: skip


def test_a_mapping_to_a_column_the_file_lacks_fails_up_front(env, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Every row would be rejected as missing the column and the command would exit 0."""
    orders = tmp_path / "orders.csv"
    orders.write_text("date,region,orders,revenue,currency\n2024-09-01,NY,3,120.50,USD\n")
    jsonl = tmp_path / "orders.ndjson"
    jsonl.write_text(json.dumps({"date": "2024-09-01", "region": "NY", "orders": 3}) + "\n")
    for path in (orders, jsonl):
        mapping = _MAPPING.replace("geo=region", "geo=regionx")
        assert cli.main([*_GENERIC, "--mapping", mapping, str(path)]) == 2
        err = capsys.readouterr().err
        assert "geo=regionx" in err and str(path) in err
    assert "revenue=revenue" in err  # the ndjson file lacks revenue and currency too
    # channel=NAME is the label every row gets (the README's orders command), not a column
    labelled = _MAPPING + ",channel=first_party"
    assert cli.main([*_GENERIC, "--mapping", labelled, "--json", str(orders)]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == 1


def test_rejections_name_the_file_line(env, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A CSV's header is line 1 and a JSON-lines file's blank lines count: the line printed
    is the one an editor shows."""
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "date,region,orders,revenue,currency\n"
        "2024-09-01,NY,3,120.50,USD\n"
        "15/09/2024,NY,1,10.00,USD\n"
        "2024-09-02,NY,-1,10.00,USD\n"
    )
    assert cli.main([*_GENERIC, "--mapping", _MAPPING, "--json", str(orders)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(r["line"], r["reason"]) for r in summary["first_rejections"]] == [
        (3, "invalid_date"), (4, "negative_value"),
    ]  # fmt: skip
    rows = [{"date": "2024-09-01", "region": "NY", "orders": 3, "revenue": 1, "currency": "USD"}]
    jsonl = tmp_path / "orders.ndjson"
    jsonl.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps({**rows[0], "date": "x"}) + "\n")
    # both rows rejected (the first restates the CSV's row at the same pull time): status 1
    assert cli.main([*_GENERIC, "--mapping", _MAPPING, str(jsonl)]) == 1
    assert "invalid_date                     1   e.g. line 3" in capsys.readouterr().out


def test_a_product_ingest_says_it_has_no_quality_score(env, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    line = {"id": 1, "product_id": 5, "quantity": 1, "price": "5.00"}
    order = {"id": 1, "created_at": "2024-09-01T10:00:00-04:00", "line_items": [line]}
    export = tmp_path / "orders.ndjson"
    export.write_text(json.dumps(order) + "\n")
    argv = ["ingest", "--org", "acme", "--source", "shopify_orders", "--timezone",
            "America/New_York", "--currency", "USD", "--country", "US", "--pulled-at",
            "2024-10-01T00:00:00", str(export)]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "quality     n/a" in out and "0.000" not in out
    assert cli.main([*argv[:-1], "--json", str(export)]) == 0
    assert json.loads(capsys.readouterr().out)["mean_quality_score"] is None
