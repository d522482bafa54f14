"""`liftos memory accounts` and `liftos memory delete` over a real ingestion and memory (R31
F1): an account ingested by mistake is listed, counted, refused without --yes, deleted, and
the same export sent again is written again (not replayed from ingestion's ledger)."""

from __future__ import annotations

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
from mesh.runtime.inprocess import RunningService, running_services

ORG = "client-x"
MAPPING = "date=date,geo=state,campaign_id=campaign,spend=spend,channel=search"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


@pytest.fixture(autouse=True)
def peers(mesh: dict[str, RunningService], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ingestion", "memory"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)


def _export(path: Path, spend: float) -> Path:
    lines = ["date,state,campaign,spend"]
    for day in range(1, 11):
        for state in ("CA", "NY", "TX"):
            lines.append(f"2024-03-{day:02d},{state},brand,{spend + day}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _ingest(account: str, path: Path, currency: str) -> int:
    return cli.main(["ingest", "--org", ORG, "--source", "generic_media", "--account-id", account,
                     "--timezone", "UTC", "--currency", currency, "--country", "US",
                     "--mapping", MAPPING, str(path)])  # fmt: skip


def _accounts(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert cli.main(["memory", "accounts", "--org", ORG]) == 0
    rows = capsys.readouterr().out.splitlines()
    return {line.split()[1]: line for line in rows[1:-1]}


def test_an_account_is_listed_deleted_and_written_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = _export(tmp_path / "mine.csv", 100.0)
    theirs = _export(tmp_path / "theirs.csv", 40.0)
    assert _ingest("acct-mine", mine, "USD") == 0
    assert _ingest("acct-theirs", theirs, "EUR") == 0
    capsys.readouterr()
    held = _accounts(capsys)
    assert set(held) == {"acct-mine", "acct-theirs"}
    assert held["acct-theirs"].split()[2:7] == ["30", "2024-03-01", "2024-03-10", "EUR", "search"]

    # not at a terminal and without --yes: counted, refused
    delete = ["memory", "delete", "--org", ORG, "--account-id", "acct-theirs"]
    assert cli.main(delete) == 1
    out, err = capsys.readouterr()
    assert f"would delete 30 records of org {ORG}:" in out and "acct-theirs" in out
    assert "re-run with --yes" in err
    assert cli.main([*delete, "--dry-run"]) == 0
    assert "would delete 30 records" in capsys.readouterr().out
    assert set(_accounts(capsys)) == {"acct-mine", "acct-theirs"}
    # no filter at all: refused before any call
    assert cli.main(["memory", "delete", "--org", ORG, "--yes"]) == 2
    assert "--all-records" in capsys.readouterr().err

    assert cli.main([*delete, "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"deleted 30 records of org {ORG}:" in out and "now holds 30 records" in out
    assert set(_accounts(capsys)) == {"acct-mine"}

    # the same export sent again is stored again: ingestion's ledger forgot the batches
    assert _ingest("acct-theirs", theirs, "EUR") == 0
    capsys.readouterr()
    held = _accounts(capsys)
    assert set(held) == {"acct-mine", "acct-theirs"}
    assert held["acct-theirs"].split()[2] == "30"


def test_an_older_export_of_a_deleted_account_is_written_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mesh: dict[str, RunningService]
) -> None:
    """Ingestion remembers the versions a restatement replaced (its superseded log, which
    outlives the stream) and refuses to write them back; once the account is deleted, its
    first export sent again is stored whole (the log is asked only about records memory
    holds)."""
    org = "client-y"
    first = _export(tmp_path / "first.csv", 100.0)
    later = tmp_path / "later.csv"
    later.write_text(
        first.read_text().replace("2024-03-05,CA,brand,105.0", "2024-03-05,CA,brand,7.0")
    )
    os.utime(first, (1_720_000_000, 1_720_000_000))
    os.utime(later, (1_720_100_000, 1_720_100_000))

    def ingest(path: Path) -> str:
        code = cli.main(["ingest", "--org", org, "--source", "generic_media", "--account-id",
                         "acct", "--timezone", "UTC", "--currency", "USD", "--country", "US",
                         "--mapping", MAPPING, str(path)])  # fmt: skip
        assert code == 0
        return capsys.readouterr().out

    def spend() -> float:
        request = memory_pb.AggregateRecordsRequest(org_id=org)
        with grpc.insecure_channel(mesh["memory"].address) as channel:
            stub = memory_grpc.MemoryServiceStub(channel)
            table = stub.AggregateRecords(request, timeout=30).campaign_days
        return sum(next(c for c in table.columns if c.name == "spend").doubles.values)

    ingest(first)
    ingest(later)  # the restated day replaces the first export's
    full = sum(100.0 + d for d in range(1, 11)) * 3
    assert spend() == pytest.approx(full - 105.0 + 7.0)
    # the first export sent again, pulled before the restatement was: the replaced version is
    # not written back (ingestion's superseded log; a pull later than the restatement's would
    # restore it, as a correction: tests/ingestion/test_reingest_correction.py)
    os.utime(first, (1_720_050_000, 1_720_050_000))
    assert "superseded_version" in ingest(first)
    assert spend() == pytest.approx(full - 105.0 + 7.0)
    assert cli.main(["memory", "delete", "--org", org, "--account-id", "acct", "--yes"]) == 0
    capsys.readouterr()
    ingest(first)
    assert spend() == pytest.approx(full)


@pytest.mark.parametrize("others", [True, False], ids=["org-keeps-others", "org-emptied"])
def test_a_ledger_not_told_is_said_and_told_by_the_next_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    mesh: dict[str, RunningService], others: bool,
) -> None:  # fmt: skip
    """V1 F6: ForgetBatches failing after DeleteRecords was never retried (a re-run deleted 0
    and skipped it) while the CLI said the ledger forgot: the export sent again was replayed
    and the account never came back."""
    org = f"client-ledger-{others}"

    def ingest(account: str, path: Path) -> list[str]:
        return ["ingest", "--org", org, "--source", "generic_media", "--account-id", account,
                "--timezone", "UTC", "--currency", "EUR", "--country", "US", "--quiet",
                "--mapping", MAPPING, str(path)]  # fmt: skip

    theirs = ingest("acct-t", _export(tmp_path / "theirs.csv", 40.0))
    assert cli.main(theirs) == 0
    if others:
        assert cli.main(ingest("acct-m", _export(tmp_path / "mine.csv", 100.0))) == 0
    delete = ["memory", "delete", "--org", org, "--account-id", "acct-t", "--yes"]
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", "127.0.0.1:1")  # ingestion unreachable
    capsys.readouterr()
    # ingestion UNAVAILABLE: exit 4, retry later (mesh.cli.exits.RETRY; 1 before s19 V2-F3)
    assert cli.main(delete) == 4
    out, err = capsys.readouterr()
    assert f"deleted 30 records of org {org}:" in out and "forgot" not in out
    assert err.startswith("error: 30 records deleted, but ingestion's ledger was NOT told")
    assert "UNAVAILABLE" in err and "Run the same delete again" in err
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"].address)
    if others:  # the re-run deletes nothing, and tells the ledger all the same (exit 1 as
        # any delete that matched nothing: R40-F5)
        assert cli.main(delete) == 1
        out, err = capsys.readouterr()
        assert f"deleted 0 records of org {org}:" in out
        assert f"org {org} now holds 30 records; ingestion's ledger forgot its batches" in out
        assert f"no record of org {org} matches --account-id 'acct-t'" in err
    else:  # nothing left of the org: memory says NOT_FOUND, the ledger is told all the same
        # refused (mesh.cli.exits; 2 before s19 R41-F1)
        assert cli.main(delete) == 1
        err = capsys.readouterr().err
        assert f"NOT_FOUND: org {org!r} has no records in memory; ingestion's ledger was told" in (
            err
        )
    assert cli.main(theirs) == 0
    assert "written 30" in capsys.readouterr().out
    assert cli.main(["memory", "accounts", "--org", org]) == 0
    assert "acct-t" in capsys.readouterr().out
