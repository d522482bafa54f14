"""The R7 hostile-input audit's ingestion findings, each through a real Ingest stream on real
ingestion and memory servers: what a rejection names and quotes (F5), that an ack stays
readable by a client on gRPC's default 4 MiB receive limit however hostile its rows (F6), and
that the account's geo codes obey the character rules of ids (F8)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

import sim
from ingestion_svc.convert import fingerprint
from ingestion_svc.ledger import BatchLedger
from mesh.cli.ingest import render
from mesh.sdk.ingestion import IngestSummary
from tests.ingestion.conftest import rich_error
from tests.ingestion.test_hardening import (
    ORG,
    _channels,
    _Corpus,
    _stored,
    _three_batches,
    refused_second_batch,
)

INVALID_NUMBER = ingestion_pb.REJECTION_REASON_INVALID_NUMBER
UNKNOWN_GEO = ingestion_pb.REJECTION_REASON_UNKNOWN_GEO


def _with_literal(c: _Corpus, field: str, literal: str) -> str:
    """A clean Meta row whose ``field`` is the JSON text ``literal`` as written (json.dumps
    cannot write an int of more than 4,300 digits itself)."""
    row = c.row(40)
    row[field] = "@@LITERAL@@"
    return json.dumps(row).replace('"@@LITERAL@@"', literal)


def test_an_integer_too_long_to_read_is_invalid_number_on_its_field(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """R7-F5: 5,000 digits of spend is INVALID_NUMBER on `spend` saying the number is too
    long, not MALFORMED on `$` with CPython's hint cut mid-word; the batch's good rows land."""
    c = _Corpus(world, "meta")
    acks, good, stored = _three_batches(services, c, _with_literal(c, "spend", "9" * 5000))
    (rejection,) = acks[1].rejections
    assert (rejection.row_index, rejection.field, rejection.reason) == (5, "spend", INVALID_NUMBER)
    assert "spend is a number too long to read" in rejection.message
    assert "5,000 digits" in rejection.message
    assert "sys." not in rejection.message  # no interpreter internals
    assert [a.accepted_count for a in acks] == [10, 10, 10]
    assert good <= stored


def test_a_negative_integer_too_long_nested_is_named_by_its_path(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """The path of a nested literal is named (here inside Meta's actions[])."""
    c = _Corpus(world, "meta")
    row = c.row(40)
    row["actions"][0]["value"] = "@@LITERAL@@"
    line = json.dumps(row).replace('"@@LITERAL@@"', "-" + "7" * 4301)
    acks, good, stored = _three_batches(services, c, line)
    (rejection,) = acks[1].rejections
    assert (rejection.field, rejection.reason) == ("actions[0].value", INVALID_NUMBER)
    assert "4,301 digits" in rejection.message
    assert good <= stored


def _geo_code(code: str) -> Callable[[ingestion_pb.IngestRequest], None]:
    def change(r: ingestion_pb.IngestRequest) -> None:
        r.account.geo_keys["California"] = code

    return change


def _channel(label: str) -> Callable[[ingestion_pb.IngestRequest], None]:
    def change(r: ingestion_pb.IngestRequest) -> None:
        r.mapping.channel = label

    return change


@pytest.mark.parametrize(
    ("source", "change", "field", "words"),
    [
        ("meta", _geo_code("\x00\x1b[2J"), "account.geo_keys['California']", "'\\x00\\x1b[2J'"),
        ("meta", _geo_code("C\nA"), "account.geo_keys['California']", "control"),
        ("meta", _geo_code("C\u200bA"), "account.geo_keys['California']", "printable"),
        ("generic", _channel("tv\x1b[31m"), "mapping.channel", "control"),
    ],
    ids=["geo-nul-clear-screen", "geo-newline", "geo-zero-width-space", "generic-channel-escape"],
)
def test_a_stored_identifier_with_control_characters_is_invalid_argument(
    services,
    world: sim.SimResult,
    source: str,
    change: Callable[[ingestion_pb.IngestRequest], None],
    field: str,
    words: str,  # type: ignore[no-untyped-def]
) -> None:
    """R7-F8: an account geo code (or a generic source's channel label) becomes the records'
    geo (channel); one with a NUL or a terminal escape is refused naming the field, the escape
    quoted escaped, and nothing of the batch is stored — as batch_id and account_id are."""
    c = _Corpus(world, source)
    acks, error, memory = refused_second_batch(services, c, change)
    assert [a.batch_id for a in acks] == ["a"]  # the batch before it is still acked
    code, reason, violations, _ = rich_error(error)
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INGEST_REQUEST")
    assert [f for f, _ in violations] == [field]
    assert words in violations[0][1]
    assert "\x00" not in error.details() and "\x1b" not in error.details()
    stored = _stored(memory)
    assert c.keys(0, 10) <= stored
    assert not (c.keys(10, 5) & stored)


_HOSTILE_ROWS = 8_000
_DEFAULT_LIMIT = 4 * 1024 * 1024  # what a client on gRPC's defaults receives at most


def test_an_ack_of_hostile_rows_stays_readable_by_a_default_client(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """R7-F6: 8,000 rows whose region is a 1,000-character key not in the account's geo
    mapping beside 20 good rows. Each rejection quoted the whole key (an 8.6 MB ack): a client on
    gRPC's default 4 MiB receive limit got RESOURCE_EXHAUSTED although the good rows were
    stored, and so on every retry. Now each quote is clipped and escaped, the list stays
    under 1 MiB with the rest summarised by field and reason, and the retry replays it."""
    c = _Corpus(world, "meta")
    hostile = []
    for k in range(_HOSTILE_ROWS):
        row = c.row(40 + k % 20)
        row["region"] = f"\u202e{k:05d}" + "R" * 1000  # a right-to-left override first
        hostile.append(json.dumps(row))
    good = c.lines(0, 20)
    batch = c.request([*hostile, *good], "hostile", 0)
    _, memory = _channels(services)
    default_client = grpc.insecure_channel(
        services["ingestion"].address, options=[("grpc.max_send_message_length", 64 << 20)]
    )
    stub = ingestion_grpc.IngestionServiceStub(default_client)
    (first,) = stub.Ingest(iter([batch]), timeout=300)
    (again,) = stub.Ingest(iter([batch]), timeout=300)  # a retry of the same batch_id

    assert (first.accepted_count, first.rejected_count) == (20, _HOSTILE_ROWS)
    assert first.ByteSize() < 1.5 * 2**20 < _DEFAULT_LIMIT
    assert c.keys(0, 20) <= _stored(memory)
    listed = list(first.rejections)
    assert 1_000 < len(listed) < _HOSTILE_ROWS  # the first rejections in full ...
    assert [r.row_index for r in listed] == list(range(len(listed)))
    for r in listed:
        assert (r.field, r.reason) == ("region", ingestion_pb.REJECTION_REASON_UNKNOWN_GEO)
        assert len(r.message) < 400
        assert "\u202e" not in r.message and "'\\u202e" in r.message  # escaped
        assert "… (1,0" in r.message  # clipped, saying how long it was
    # ... and the rest counted, exactly, in one summary for the one field and reason (no
    # stand-in RowRejection among the listed ones)
    assert not any("not listed" in r.message for r in listed)
    rest = _HOSTILE_ROWS - len(listed)
    (summary,) = first.rejection_summaries
    assert (summary.field, summary.reason) == ("region", UNKNOWN_GEO)
    assert (summary.row_count, summary.first_row_index, summary.last_row_index) == (
        rest,
        len(listed),
        _HOSTILE_ROWS - 1,
    )
    assert first.unlisted_rejection_count == rest
    assert f"'\\u202e{len(listed):05d}RRR" in summary.first_message  # the first, escaped
    assert "\u202e" not in summary.first_message
    # the SDK's per-reason counts are the true ones (they counted one for the whole rest)
    sdk = IngestSummary()
    sdk.add(first, row_offset=0)
    assert sdk.rejected_by_reason == {"unknown_geo": _HOSTILE_ROWS}
    assert (sdk.rejected, sdk.unlisted) == (_HOSTILE_ROWS, rest)
    table = render(sdk, 1.0)  # `liftos ingest`'s per-reason table
    assert f"  unknown_geo                  {_HOSTILE_ROWS:,}   e.g. line 0, 1, 2" in table
    assert f"({rest:,} of them counted by the acks by field and reason" in table

    assert again.replayed and not first.replayed
    again.replayed = False
    assert again == first  # the replay is the first answer


def test_an_oversized_ack_stored_before_the_bound_is_replayed_bounded(
    services, world: sim.SimResult, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A ledger entry the unbounded code stored (8,000 rejections each quoting a 1,000-char
    geo: 8.6 MB) is replayed bounded as a new ack would be, the same on every replay, where
    it used to be undeliverable to a default client on every retry."""
    c = _Corpus(world, "meta")
    batch = c.request(c.lines(0, 10), "legacy", 0)
    old = ingestion_pb.IngestResponse(batch_id="legacy", accepted_count=20, rejected_count=8_000)
    for k in range(8_000):
        geo = f"{k:05d}" + "R" * 1000
        old.rejections.add(
            row_index=k,
            field="region",
            reason=ingestion_pb.REJECTION_REASON_UNKNOWN_GEO,
            message=f"geo {geo!r} is not in the account's geo mapping",
        )
    assert old.ByteSize() > 2 * _DEFAULT_LIMIT
    # the running server's own ledger (the services fixture's data dir)
    BatchLedger(tmp_path / "ingestion" / "ledger.sqlite").put(
        ORG, "legacy", fingerprint(batch), old.SerializeToString()
    )
    _, memory = _channels(services)
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))
    (first,) = stub.Ingest(iter([batch]), timeout=120)
    (again,) = stub.Ingest(iter([batch]), timeout=120)
    assert first.replayed and (first.accepted_count, first.rejected_count) == (20, 8_000)
    assert first.ByteSize() < 1.5 * 2**20
    (summary,) = first.rejection_summaries
    assert summary.row_count == first.unlisted_rejection_count == 8_000 - len(first.rejections)
    assert (summary.first_row_index, summary.last_row_index) == (len(first.rejections), 7_999)
    assert all(len(r.message) <= 600 for r in first.rejections)
    assert again == first
    with pytest.raises(grpc.RpcError) as err:  # answered from the ledger: nothing written
        _stored(memory)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_an_ack_stored_with_stand_in_rejections_is_replayed_as_it_was(
    services, world: sim.SimResult, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An ack bounded before rejection_summaries existed (one stand-in RowRejection per field
    and reason, saying "not listed one by one") is replayed as stored: nothing is re-derived
    from its stand-ins, and a client reads them as it did."""
    c = _Corpus(world, "meta")
    batch = c.request(c.lines(0, 10), "stand-in", 0)
    old = ingestion_pb.IngestResponse(batch_id="stand-in", accepted_count=20, rejected_count=3)
    old.rejections.add(row_index=0, field="region", reason=UNKNOWN_GEO, message="geo 'X'")
    old.rejections.add(
        row_index=1,
        field="region",
        reason=UNKNOWN_GEO,
        message="2 rows from row 1 to row 2 rejected unknown_geo on region, not listed one by one",
    )
    BatchLedger(tmp_path / "ingestion" / "ledger.sqlite").put(
        ORG, "stand-in", fingerprint(batch), old.SerializeToString()
    )
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))
    (first,) = stub.Ingest(iter([batch]), timeout=120)
    assert first.replayed
    first.replayed = False
    assert first == old
    sdk = IngestSummary()
    sdk.add(first, row_offset=0)
    assert (sdk.rejected, sdk.rejected_by_reason) == (3, {"unknown_geo": 2})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("campaign_id", "12022\x0040977"),
        ("region", "Cali\x1b[2Jfornia"),
        ("campaign_name", "x\x07y"),
    ],
)
def test_a_row_text_with_control_characters_is_its_rejection(
    services, world: sim.SimResult, field: str, value: str
) -> None:  # type: ignore[no-untyped-def]
    """A row's own id, geo key or name holding a NUL, BEL or terminal escape is that row's
    MALFORMED rejection naming the raw field, the value quoted escaped (it was stored, or —
    with memory's rule on a record's text — refused there as a bug); the good rows land."""
    c = _Corpus(world, "meta")
    row = c.row(40)
    row[field] = value
    acks, good, stored = _three_batches(services, c, json.dumps(row))
    (rejection,) = acks[1].rejections
    assert (rejection.row_index, rejection.field) == (5, field)
    assert rejection.reason == ingestion_pb.REJECTION_REASON_MALFORMED
    assert f"{field} {value!r} holds control characters" == rejection.message
    assert [a.accepted_count for a in acks] == [10, 10, 10]
    assert good <= stored


def test_an_id_with_a_tab_is_its_rows_malformed_rejection(
    services, world: sim.SimResult, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """A tab is allowed in a name but not in an id (memory's rule on a record's text): the
    connector lets it through as text, and the pipeline's last check rejects the row as
    malformed, the row's own data, not as a number ingestion computed wrong (no ERROR log)."""
    c = _Corpus(world, "meta")
    row = c.row(40)
    row["campaign_id"] = "12022\t40977"
    with caplog.at_level("ERROR"):
        acks, good, stored = _three_batches(services, c, json.dumps(row))
    (rejection,) = acks[1].rejections
    assert (rejection.row_index, rejection.field) == (5, "campaign_id")
    assert rejection.reason == ingestion_pb.REJECTION_REASON_MALFORMED
    assert "campaign_id holds control characters" in rejection.message
    assert not [r for r in caplog.records if "record_rules" in r.getMessage()]
    assert [a.accepted_count for a in acks] == [10, 10, 10]
    assert good <= stored
