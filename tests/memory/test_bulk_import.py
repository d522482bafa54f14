"""Bulk import: length-delimited WriteRequests stored with the Write RPC's code into a data
dir, which a memory server then serves; a bad message is refused by number and field while
the others are stored; a truncated stream is named, not half-read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc.app import open_engine
from memory_svc.bulk_import import delimited, import_requests, main, read_delimited
from memory_svc.store import RecordFilter
from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.synthetic_records import synthetic_records

ORG = "bulk"


def _config(data: Path) -> ServerConfig:
    return ServerConfig("memory", "127.0.0.1", 0, data, PeerConfig.from_env())


def test_import_file_then_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = synthetic_records(ORG, 900, seed=4, campaigns=6, geos=5)
    bad = memory_pb.WriteRequest(org_id=ORG, records=records[:2])
    bad.records[1].version = -3  # that record refused alone, as the Write RPC refuses it
    messages = [
        memory_pb.WriteRequest(org_id=ORG, records=records[:400]),
        bad,
        memory_pb.WriteRequest(org_id=ORG, records=records[400:]),
        memory_pb.WriteRequest(org_id=ORG, records=records[:400]),  # re-sent: unchanged
    ]
    path = tmp_path / "in.bin"
    path.write_bytes(b"".join(delimited(m.SerializeToString()) for m in messages))
    data = tmp_path / "data"
    assert main([str(path), "--data-dir", str(data)]) == 1  # a record was refused
    out = capsys.readouterr().out
    # the bad message's good record (records[0] again) is stored as unchanged
    assert "900 inserted" in out and "401 unchanged" in out and "1 records refused" in out
    assert "message 1 record 1 (" in out and ": version: version must not be negative" in out

    engine = open_engine(_config(data))  # what the server opens: loads the saved index
    try:
        assert engine.record_count(ORG) == 900
        idx = engine.indexes.get(ORG)
        assert idx is not None and idx.size == 900
        query = engine.query_vector(ORG, "campaign retargeting", None)
        hits = engine.search(ORG, query, RecordFilter(), 5).hits
        assert len(hits) == 5 and {h.record_id for h in hits} <= {r.id for r in records}
    finally:
        engine.close()


def test_import_requests_counts_and_restatements(tmp_path: Path) -> None:
    records = synthetic_records(ORG, 300, seed=5, campaigns=3, geos=4)
    restated = synthetic_records(ORG, 100, seed=5, campaigns=3, geos=4, version=2)
    engine = open_engine(_config(tmp_path))
    try:
        seen: list[int] = []
        report = import_requests(
            engine,
            [
                memory_pb.WriteRequest(org_id=ORG, records=records).SerializeToString(),
                memory_pb.WriteRequest(org_id=ORG, records=restated),
                b"\xff\xff\xff",
            ],
            progress=lambda r: seen.append(r.messages),
        )
        assert (report.inserted, report.replaced, report.messages) == (300, 100, 3)
        assert report.refused and report.refused[0][0] == 2
        assert "not a WriteRequest" in report.refused[0][1]
        assert seen == [1, 2]
        assert engine.record_count(ORG) == 300
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("tail", "words"),
    [(b"\x05abc", "message at byte 4 is truncated: 3 of 5 bytes"),
     (b"\x80", "truncated length at byte 4")],
)  # fmt: skip
def test_a_truncated_stream_is_named(tail: bytes, words: str) -> None:
    good = delimited(b"\x0a\x01x")  # 4 bytes: read before the error
    got: list[bytes] = []
    with pytest.raises(InvalidInput, match=words) as err:
        got.extend(read_delimited(io.BytesIO(good + tail)))
    assert err.value.field == "input"


def test_liftos_memory_import(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from mesh.cli.commands import main as liftos

    records = synthetic_records(ORG, 120, seed=6, campaigns=4, geos=3)
    path = tmp_path / "in.bin"
    path.write_bytes(
        delimited(memory_pb.WriteRequest(org_id=ORG, records=records).SerializeToString())
    )
    assert liftos(["memory", "import", str(path), "--data-dir", str(tmp_path / "d")]) == 0
    assert "120 inserted" in capfd.readouterr().out  # the import's own process writes it
    engine = open_engine(_config(tmp_path / "d"))
    try:
        assert engine.record_count(ORG) == 120
    finally:
        engine.close()


def test_import_refuses_a_missing_file_and_a_served_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing input is one line, not a traceback; a data dir a memory server runs on is
    refused (the import would save indexes over the server's); the saved files are 0600."""
    from memory_svc.app import build as memory_build
    from mesh.runtime.inprocess import running_services

    assert main([str(tmp_path / "none.bin"), "--data-dir", str(tmp_path / "d")]) == 2
    assert "none.bin: no such file" in capsys.readouterr().err
    records = synthetic_records(ORG, 50, seed=8, campaigns=2, geos=2)
    path = tmp_path / "in.bin"
    path.write_bytes(
        delimited(memory_pb.WriteRequest(org_id=ORG, records=records).SerializeToString())
    )
    with running_services({"memory": memory_build}, tmp_path / "served"):
        assert main([str(path), "--data-dir", str(tmp_path / "served")]) == 2
        assert "a memory server runs on" in capsys.readouterr().err
    # Stopped, the same dir imports; every file the import saved is the owner's alone.
    assert main([str(path), "--data-dir", str(tmp_path / "served")]) == 0
    saved = [p for p in (tmp_path / "served" / "memory" / "index").rglob("*") if p.is_file()]
    assert saved and all(p.stat().st_mode & 0o077 == 0 for p in saved), saved


def test_import_into_a_data_dir_it_cannot_write_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data dir the import cannot write is refused as the service refuses it at start, one
    line naming the path (G2's note on audit R19-F-RO: it was a traceback). Tests run as root,
    where file modes stop nothing: the data dir sits under a regular file, which fails anyone."""
    path = tmp_path / "in.bin"
    records = synthetic_records(ORG, 10, seed=9, campaigns=1, geos=2)
    path.write_bytes(
        delimited(memory_pb.WriteRequest(org_id=ORG, records=records).SerializeToString())
    )
    (tmp_path / "a-file").write_text("not a directory")
    assert main([str(path), "--data-dir", str(tmp_path / "a-file" / "data")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("import: cannot write ") and "a-file" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
