"""Helpers shared by tests: decode rich error details from a failed call; pickle a dataclass
as an older version of it (without fields added since) stored it."""

from __future__ import annotations

import copyreg
import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest

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


def open_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQLite connection opens as on a build without SQLITE_SECURE_DELETE (SQLite's
    documented default: freed content stays where it was): what the erasure tests prove
    their deletes against, whatever this host's build defaults to."""
    plain = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = plain(*args, **kwargs)  # type: ignore[call-overload]
        db.execute("PRAGMA secure_delete=OFF")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
