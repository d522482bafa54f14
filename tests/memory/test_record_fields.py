"""Write checks every field of a record as the proto documents it (audit R7-F1, R7-F2): a bad
field is refused with its path and reason, nothing of the message is stored, and the same
records without the bad field are written."""

from __future__ import annotations

import copy
from collections.abc import Callable

import grpc
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.synthetic_records import synthetic_records

from .conftest import reason_and_fields, rich_error, scan_all

INVALID = grpc.StatusCode.INVALID_ARGUMENT
Mutation = Callable[[md_pb.CausalMarketingData], None]


def _set(path: str, value: object) -> Mutation:
    """Set the (dotted) field ``path`` of a record to ``value``."""

    def mutate(record: md_pb.CausalMarketingData) -> None:
        *parents, name = path.split(".")
        holder = record
        for part in parents:
            holder = getattr(holder, part)
        setattr(holder, name, value)

    return mutate


def _refused(stub, org: str, mutate: Mutation) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """Write three records, the second mutated: (first field named, its reason, message)."""
    records = synthetic_records(org, 3)
    mutate(records[1])
    with pytest.raises(grpc.RpcError) as err:
        stub.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]), timeout=60)
    code, reason, fields = reason_and_fields(err.value)
    assert code == INVALID
    _, message, _ = rich_error(err.value)
    return fields[0], reason, message


def _assert_nothing_stored(stub, org: str) -> None:  # type: ignore[no-untyped-def]
    """Nothing of a refused message is stored (the old code stored the wrapped instant as 1970)."""
    with pytest.raises(grpc.RpcError) as err:
        scan_all(stub, org_id=org)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


INSTANTS = [
    ("timestamp.seconds", 2**62, "records[1].timestamp"),
    ("timestamp.seconds", 2**63 - 1, "records[1].timestamp"),
    ("timestamp.seconds", -(2**63), "records[1].timestamp"),
    ("timestamp.seconds", 18_446_744_073_709, "records[1].timestamp"),
    ("timestamp.seconds", 253_402_300_799, "records[1].timestamp"),  # 9999-12-31
    ("timestamp.nanos", -5, "records[1].timestamp.nanos"),
    ("timestamp.nanos", 1_000_000_000, "records[1].timestamp.nanos"),
    ("causal_metadata.ingested_at.seconds", -(2**62), "records[1].causal_metadata.ingested_at"),
    ("causal_metadata.pulled_at.seconds", 2**63 - 1, "records[1].causal_metadata.pulled_at"),
    ("causal_metadata.pulled_at.nanos", -1, "records[1].causal_metadata.pulled_at.nanos"),
]


@pytest.mark.parametrize(("path", "value", "field"), INSTANTS)
def test_instants_outside_their_range_are_refused(stub, path, value, field) -> None:
    org = "r7-instants"
    named, reason, message = _refused(stub, org, _set(path, value))
    assert (named, reason) == (field, "INVALID_RECORD")
    assert "1900-2200" in message or "nanos" in message
    _assert_nothing_stored(stub, org)


def test_the_same_records_in_range_are_written(stub) -> None:
    org = "r7-instants-ok"
    records = synthetic_records(org, 3)
    edge = copy.deepcopy(records[1])
    edge.timestamp.nanos = 999_999_999
    records[1].CopyFrom(edge)
    response = stub.Write(iter([memory_pb.WriteRequest(org_id=org, records=records)]), timeout=60)
    assert response.inserted_count == 3
    got = {r.id: r for r in scan_all(stub, org_id=org)}
    assert got[edge.id].timestamp == edge.timestamp
