"""`liftos search` (R5-F8, R5-F10): a campaign's whole name is printed — cut at 28 characters a
re-issued campaign printed as the ended one it came from — and the org comes from LIFTOS_ORG
when --org is not given, as every other verb takes it."""

from __future__ import annotations

import argparse
import io

import pytest
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.cli import search as cli
from tests.memory.conftest import write

ORG = "renamed"
OLD = "US | Prospecting | Sales #1"
NEW = "US | Prospecting | Sales #1 | Holiday"


@pytest.fixture(scope="module")
def renamed(stub) -> None:
    base = md_pb.CausalMarketingData(
        org_id=ORG, data_source=1, account_id="act", geo="US-CA", currency_code="USD",
        channel="meta_prospecting_and_more_words", spend=100.0, revenue=250.0, version=1,
    )  # fmt: skip
    records = []
    for i, (campaign, name) in enumerate((("c-old", OLD), ("c-new", NEW))):
        r = md_pb.CausalMarketingData()
        r.CopyFrom(base)
        r.id, r.natural_key = f"{ORG}-{i}", f"meta|act|{campaign}|US-CA|2024-12-2{i}"
        r.campaign_id, r.campaign_name = campaign, name
        r.timestamp.FromSeconds(1734739200 + 86400 * i)
        r.local_date.year, r.local_date.month, r.local_date.day = 2024, 12, 21 + i
        records.append(r)
    assert write(stub, ORG, records).inserted_count == 2


def _run(server: str, argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="liftos")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["search", "--addr", server, *argv])
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def test_whole_names_and_the_org_from_the_environment(
    server, renamed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIFTOS_ORG", ORG)
    code, out = _run(server, ["--campaign", "c-new", "prospecting"])
    assert code == 0
    (row,) = out.splitlines()[1:-1]
    assert NEW in row and "meta_prospecting_and_more_words" in row
    code, out = _run(server, ["prospecting"])
    names = [line for line in out.splitlines()[1:-1]]
    assert code == 0 and len(names) == 2
    assert sum(NEW in line for line in names) == 1 and all(OLD in line for line in names)
    monkeypatch.delenv("LIFTOS_ORG")
    code, _ = _run(server, ["prospecting"])
    assert code == 2 and "--org is required (or set LIFTOS_ORG)" in capsys.readouterr().err
