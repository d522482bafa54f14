"""The R7 hostile-input audit's ingestion findings, each through a real Ingest stream on real
ingestion and memory servers: what a rejection names and quotes (F5), that an ack stays
readable by a client on gRPC's default 4 MiB receive limit however hostile its rows (F6), and
that the account's geo codes obey the character rules of ids (F8)."""

from __future__ import annotations

import json

from liftos.v1 import ingestion_pb2 as ingestion_pb

import sim
from tests.ingestion.test_hardening import _Corpus, _three_batches

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
