"""`liftos ingest --accounts` with a multi-org accounts.json picks the --org's account (audit
R8-F7), over real memory and ingestion servers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.inprocess import running_services


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    argv = ["simulate", "--scenario", "demo", "--seed", "1", "--days", "28", "--geos", "2",
            "--orgs", "2", "--campaigns", "7", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    return out


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        yield {s: r.address for s, r in services.items()}


def _ingest(world: Path, org: str, monkeypatch: pytest.MonkeyPatch, mesh: dict[str, str]) -> int:
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    monkeypatch.setenv("LIFTOS_MEMORY_ADDR", mesh["memory"])
    argv = ["ingest", "--org", org, "--source", "meta", "--accounts",
            str(world / "accounts.json"), "--country", "US", str(world / "meta.ndjson")]  # fmt: skip
    return cli.main(argv)


def test_the_orgs_own_account_is_picked(
    world: Path, mesh: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    accounts = json.loads((world / "accounts.json").read_text())
    metas = {a["org_id"]: a["account_id"] for a in accounts if a["source"] == "meta"}
    assert len(metas) == 2  # the file really is multi-org
    assert _ingest(world, "org_002", monkeypatch, mesh) == 0
    out = capsys.readouterr().out
    written = re.search(r"written ([\d,]+)", out)
    assert written and int(written.group(1).replace(",", "")) > 0, out
    # the batch was org_002's account: org_001's rows in the shared export are the foreign ones
    assert f"in a batch for account '{metas['org_002']}'" in out, out


def test_an_org_with_no_account_there_is_told_whose_they_are(
    world: Path, mesh: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as refused:
        _ingest(world, "org_009", monkeypatch, mesh)
    message = str(refused.value)
    assert "has 2 meta accounts (of org_001, org_002), none of org 'org_009'" in message
    assert "--account-id" in message


def test_liftos_org_stands_in_for_org(
    world: Path, mesh: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """R12-F4: README's `export LIFTOS_ORG=…` serves ingest too (its --org was required)."""
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", mesh["ingestion"])
    monkeypatch.setenv("LIFTOS_MEMORY_ADDR", mesh["memory"])
    argv = ["ingest", "--source", "meta", "--accounts", str(world / "accounts.json"),
            "--country", "US", str(world / "meta.ndjson")]  # fmt: skip
    monkeypatch.delenv("LIFTOS_ORG", raising=False)
    assert cli.main(argv) == 2
    assert "--org is required (or set LIFTOS_ORG)" in capsys.readouterr().err
    monkeypatch.setenv("LIFTOS_ORG", "org_001")
    assert cli.main(argv) == 0
    accounts = json.loads((world / "accounts.json").read_text())
    mine = next(
        a["account_id"] for a in accounts if a["source"] == "meta" and a["org_id"] == "org_001"
    )
    assert f"in a batch for account '{mine}'" in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, "{not json", b"\xff\xfe[]"])
def test_an_accounts_file_that_cannot_be_read_is_one_line(
    world: Path, tmp_path: Path, content: str | bytes | None
) -> None:
    """A missing, malformed or undecodable --accounts file is a one-line refusal naming the flag
    and the file, not a traceback (s20 R49-F9)."""
    accounts = tmp_path / "accounts.json"
    if isinstance(content, bytes):
        accounts.write_bytes(content)
    elif content is not None:
        accounts.write_text(content)
    argv = ["ingest", "--org", "org_001", "--source", "meta", "--accounts", str(accounts),
            "--country", "US", str(world / "meta.ndjson")]  # fmt: skip
    with pytest.raises(SystemExit) as refused:
        cli.main(argv)
    message = str(refused.value)
    assert message.startswith(f"error: --accounts {accounts}: "), message
    assert "\n" not in message
    if content is None:
        assert message.endswith("No such file or directory")
