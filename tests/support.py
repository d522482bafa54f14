"""Helpers shared by tests: decode rich error details from a failed call; pickle a dataclass
as an older version of it (without fields added since) stored it."""

from __future__ import annotations

import copyreg
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from mesh.runtime.status import decode_status


def error_details(error: grpc.RpcError) -> tuple[str, list[str]]:
    """(ErrorInfo.reason, [BadRequest field violation fields]) of a failed call."""
    status = decode_status(error)
    assert status.carried, "no rich status on the error"
    return status.reason, status.fields


@contextmanager
def pickled_without(cls: type, missing: tuple[str, ...]) -> Iterator[None]:
    """Inside the block, ``cls`` instances pickle without the fields ``missing``, as a version
    from before those fields existed stored them."""
    kept = [f.name for f in dataclasses.fields(cls) if f.name not in missing]
    copyreg.pickle(cls, lambda o: (object.__new__, (cls,), [getattr(o, n) for n in kept]))
    try:
        yield
    finally:
        copyreg.dispatch_table.pop(cls)
