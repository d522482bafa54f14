"""s18 V1 F7 (3400175): an export folder copied/restored (cp, unzip, git checkout give every
file a new, often identical mtime, which the CLI takes as the pull time) and ingested again
reverted the restated days to the first export's numbers: a later pull time wrote replaced
content back. Now only a batch that says it corrects (--restore-replaced) does; the copy
writes nothing and the note names the flag. Real memory + ingestion through `liftos ingest`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh import cli
from tests.cli.test_memory_delete import MAPPING, _export, mesh, peers  # noqa: F401


def test_a_copied_export_folder_ingested_again_keeps_the_restatement(
    tmp_path,
    capsys: pytest.CaptureFixture[str],
    mesh,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    org = "client-copy"
    first = _export(tmp_path / "a_first.csv", 100.0)
    later = tmp_path / "b_later.csv"
    later.write_text(
        first.read_text().replace("2024-03-05,CA,brand,105.0", "2024-03-05,CA,brand,7.0")
    )
    os.utime(first, (1_720_000_000, 1_720_000_000))
    os.utime(later, (1_720_100_000, 1_720_100_000))

    def ingest(*paths) -> str:  # type: ignore[no-untyped-def]
        assert cli.main(["ingest", "--org", org, "--source", "generic_media", "--account-id",
                         "acct", "--timezone", "UTC", "--currency", "USD", "--country", "US",
                         "--mapping", MAPPING, *map(str, paths)]) == 0  # fmt: skip
        out = capsys.readouterr().out
        print(out, file=sys.__stderr__)
        return out

    def spend() -> float:
        request = memory_pb.AggregateRecordsRequest(org_id=org)
        with grpc.insecure_channel(mesh["memory"].address) as channel:
            table = memory_grpc.MemoryServiceStub(channel).AggregateRecords(
                request, timeout=30).campaign_days  # fmt: skip
        return sum(next(c for c in table.columns if c.name == "spend").doubles.values)

    ingest(first, later)
    full = sum(100.0 + d for d in range(1, 11)) * 3
    assert spend() == pytest.approx(full - 105.0 + 7.0)
    # the folder copied to a new machine: both files get the copy's mtime
    for p in (first, later):
        os.utime(p, (1_730_000_000, 1_730_000_000))
    out = ingest(first, later)  # `liftos ingest exports/*.csv`, as before
    print("spend:", spend(), "expected:", full - 105.0 + 7.0, file=sys.__stderr__)
    assert spend() == pytest.approx(full - 105.0 + 7.0), "the restated day reverted"
    assert "written 0," in out and "superseded_version" in out and "--restore-replaced" in out


def test_the_right_file_after_a_wrong_one_is_restored_with_restore_replaced(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mesh,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    """R33 F0 through the CLI: the right file ingested again after a wrong one, with a later
    --pulled-at, is a copy (its note names the flag) until --restore-replaced says it
    corrects; then every replaced day is written back."""
    org = "client-fix"
    right = _export(tmp_path / "right.csv", 100.0)
    wrong = _export(tmp_path / "wrong.csv", 130.0)

    def ingest(path: Path, pulled: str, *extra: str) -> str:
        assert cli.main(["ingest", "--org", org, "--source", "generic_media", "--account-id",
                         "acct", "--timezone", "UTC", "--currency", "USD", "--country", "US",
                         "--mapping", MAPPING, "--pulled-at", pulled, *extra,
                         str(path)]) == 0  # fmt: skip
        return capsys.readouterr().out

    def spend() -> float:
        request = memory_pb.AggregateRecordsRequest(org_id=org)
        with grpc.insecure_channel(mesh["memory"].address) as channel:
            table = memory_grpc.MemoryServiceStub(channel).AggregateRecords(
                request, timeout=30).campaign_days  # fmt: skip
        return sum(next(c for c in table.columns if c.name == "spend").doubles.values)

    good = sum(100.0 + d for d in range(1, 11)) * 3
    ingest(right, "2024-04-01T00:00:00")
    ingest(wrong, "2024-04-02T00:00:00")
    assert spend() == pytest.approx(good + 30 * 30.0)
    out = ingest(right, "2024-04-03T00:00:00")
    assert "written 0," in out and "--restore-replaced" in out
    assert spend() == pytest.approx(good + 30 * 30.0)
    out = ingest(right, "2024-04-03T00:00:00", "--restore-replaced")
    assert "written 30," in out and "superseded_version" not in out
    assert spend() == pytest.approx(good), "the wrong numbers stayed"
