"""Fixtures: raw rows of each platform as the simulator writes them, a real memory +
ingestion pair on free ports, and decoding of rich gRPC errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.app import build as ingestion_build
from ingestion_svc.external_factors import FactorTable
from ingestion_svc.history import StreamHistory
from ingestion_svc.parse import parse_json_rows
from ingestion_svc.pipeline import BatchResult, finish, prepare
from ingestion_svc.raw_batch import Account, RawBatch
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.main import Build
from mesh.runtime.status import decode_status

PULLED = dt.datetime(2025, 1, 13, 9, tzinfo=dt.UTC)


def account_of(world: sim.SimResult, source: str, **over: Any) -> Account:
    a = next(x for x in world.accounts if x["source"] == source)
    fields = dict(
        account_id=a["account_id"],
        timezone=a["timezone"],
        currency=a["currency"],
        country="US",
        geo_keys=a["geo_keys"],
    )
    fields.update(over)
    return Account(**fields)  # type: ignore[arg-type]


def raw_batch(
    source: str,
    lines: list[str],
    account: Account,
    *,
    org: str = "acme",
    batch_id: str = "b1",
    pulled_at: dt.datetime = PULLED,
    row_offset: int = 0,
    **kw: Any,
) -> RawBatch:
    rows, raw, rejections = parse_json_rows(lines)
    return RawBatch(
        org, source, batch_id, rows, raw, account, pulled_at, row_offset,
        parse_rejections=rejections, **kw,
    )  # fmt: skip


def ingested_batches(
    world: sim.SimResult, source: str, size: int, pulled_at: dt.datetime = PULLED
) -> Iterator[BatchResult]:
    """A world's raw export of ``source``, ``size`` lines a batch, through the pipeline as
    Ingest runs it (dirt included, the stream's history kept); no gRPC, no storage."""
    account = account_of(world, source)
    history = StreamHistory()
    lines = list(world.raw[source].lines())
    for start in range(0, len(lines), size):
        batch = raw_batch(
            source, lines[start : start + size], account, batch_id=f"b{start}",
            pulled_at=pulled_at, row_offset=start,
        )  # fmt: skip
        result = finish(prepare(batch), history, [], FactorTable.empty(), pulled_at)
        history.add(result.history_rows)
        yield result


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"))


@pytest.fixture(scope="session")
def world() -> sim.SimResult:
    """The demo world of the README (seed 1)."""
    return sim.simulate("demo", seed=1)


@pytest.fixture(scope="session")
def world_dir(world: sim.SimResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    sim.write(world, out)
    return out


def clean_line(world: sim.SimResult, source: str, k: int = 0) -> dict[str, Any]:
    """A clean export row of ``source`` (its k-th base row, rendered)."""
    return world.raw[source].base_row(k)


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[dict[str, RunningService]]:
    with running_services({"memory": memory_build, "ingestion": ingestion_build}, tmp_path) as s:
        yield s


@pytest.fixture()
def services_and_store(tmp_path: Path) -> Iterator[tuple[dict[str, Any], Any]]:
    """Real memory and ingestion servers, with memory's record store (to fill its disk)."""
    held: list[Any] = []

    def memory(config):  # type: ignore[no-untyped-def]
        bindings, on_stop = memory_build(config)
        held.append(bindings[0].servicer._engine.store)
        return bindings, on_stop

    with running_services({"memory": memory, "ingestion": ingestion_build}, tmp_path) as s:
        yield s, held[0]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Real memory and ingestion servers shared by a module's tests: name → address."""
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        yield {s: r.address for s, r in services.items()}


def stored_records(address: str, org: str) -> list[Any]:
    """Every record memory at ``address`` holds for ``org`` (none: an empty list)."""
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    try:
        return [r for b in stub.Scan(memory_pb.ScanRequest(org_id=org)) for r in b.records]
    except grpc.RpcError as err:  # nothing stored for the org
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        return []


def peers_of(services: dict[str, RunningService]) -> PeerConfig:
    return PeerConfig.from_env().with_overrides(**{name: s.address for name, s in services.items()})


def rich_error(err: grpc.RpcError) -> tuple[grpc.StatusCode, str, list[tuple[str, str]], Any]:
    """(code, ErrorInfo reason, field violations, RetryInfo or None) of a failed call."""
    status = decode_status(err)
    assert status.carried, "the error carries no google.rpc.Status"
    retry = next((d for d in status.details if isinstance(d, error_details_pb2.RetryInfo)), None)
    return status.code, status.reason, list(status.field_violations), retry
