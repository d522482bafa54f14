"""Ingest's request decoder: ``IngestRequest.FromString``, except that one row protobuf cannot
decode (a Struct nested past its depth limit) costs only that row, not the stream."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError
from liftos.v1 import ingestion_pb2

from ingestion_svc.convert import UNDECODABLE

_ROWS = ingestion_pb2.IngestRequest.DESCRIPTOR.fields_by_name["rows"].number


def decode_ingest_request(data: bytes) -> ingestion_pb2.IngestRequest:
    """``IngestRequest.FromString``, except where protobuf refuses the message.

    Protobuf decodes messages nested at most 100 deep, so a Struct row nested deeper than
    about 32 levels fails the whole message. Then each row is decoded alone and one that
    fails becomes a placeholder Struct (its one key ``UNDECODABLE``, its value the row's
    hash, so different rows make different batches) that the batch rejects as malformed;
    the rest of the batch is kept. A message that is not an IngestRequest even so comes back
    with ``batch_id = UNDECODABLE``, which the servicer refuses as INVALID_ARGUMENT.
    """
    try:
        return ingestion_pb2.IngestRequest.FromString(data)
    except DecodeError:
        pass
    rows: list[struct_pb2.Struct] = []
    rest = bytearray()
    try:
        for number, start, body, end in _fields(data):
            if number != _ROWS or body < 0:
                rest += data[start:end]
                continue
            try:
                rows.append(struct_pb2.Struct.FromString(data[body:end]))
            except DecodeError:
                digest = hashlib.sha256(data[body:end]).hexdigest()
                placeholder = struct_pb2.Struct()
                placeholder.fields[UNDECODABLE].string_value = digest
                rows.append(placeholder)
        request = ingestion_pb2.IngestRequest.FromString(bytes(rest))
    except (DecodeError, ValueError):
        return ingestion_pb2.IngestRequest(batch_id=UNDECODABLE)
    request.rows.extend(rows)
    return request


def _fields(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start, start of a length-delimited value or -1, end) of each top-level
    field of a protobuf message; ValueError if it is not one."""
    pos, size = 0, len(data)
    while pos < size:
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        body = -1
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            body, pos = pos, pos + length
        elif wire == 5:
            pos += 4
        else:  # groups: never in an IngestRequest
            raise ValueError(f"wire type {wire}")
        if pos > size or number == 0:
            raise ValueError("truncated message")
        yield number, start, body, pos


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")
