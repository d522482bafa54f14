"""The R7 hostile-input audit's ingestion findings, each through a real Ingest stream on real
ingestion and memory servers: what a rejection names and quotes (F5), that an ack stays
readable by a client on gRPC's default 4 MiB receive limit however hostile its rows (F6), and
that the account's geo codes obey the character rules of ids (F8)."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

import sim
from tests.ingestion.conftest import rich_error
from tests.ingestion.test_hardening import _channels, _Corpus, _stored, _three_batches

INVALID_NUMBER = ingestion_pb.REJECTION_REASON_INVALID_NUMBER


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
    channel, memory = _channels(services)
    stub = ingestion_grpc.IngestionServiceStub(channel)
    bad = c.request(c.lines(10, 5), "b", 10)
    change(bad)
    acks: list[ingestion_pb.IngestResponse] = []
    with pytest.raises(grpc.RpcError) as err:
        for ack in stub.Ingest(iter([c.request(c.lines(0, 10), "a", 0), bad]), timeout=60):
            acks.append(ack)
    assert [a.batch_id for a in acks] == ["a"]  # the batch before it is still acked
    code, reason, violations, _ = rich_error(err.value)
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INGEST_REQUEST")
    assert [f for f, _ in violations] == [field]
    assert words in violations[0][1]
    assert "\x00" not in err.value.details() and "\x1b" not in err.value.details()
    stored = _stored(memory)
    assert c.keys(0, 10) <= stored
    assert not (c.keys(10, 5) & stored)
