"""DeleteExperiments and DeleteExternalFactors (audit R40 F2: an org erased at contract end
kept its experiment registry and factor series, with no way to delete them). Real memory and
two ingestion replicas on one data dir: what one deletes, the other no longer serves — not
from Get/List, GetCalendar, what causal's attribution reads (its registry peer), nor the
factor table an Ingest stream opened before the delete holds. Dry runs, not_found on a retry,
other orgs untouched, the records.delete scope, and the arguments refused by field."""

from __future__ import annotations

import asyncio
import datetime as dt
import queue
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.peers import ExternalSeries, RegistryLifts, RegistryReader
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.inprocess import RunningService, running_services
from tests.causal.contract.test_record_experiment_result import _experiment, _result
from tests.ingestion.conftest import dumps, peers_of, rich_error
from tests.ingestion.test_ingest_service import _request

ORG, OTHER = "acme", "rival"
FIRST = dt.date(2024, 9, 1)  # the demo world's meta rows begin 2024-09-15
DAYS = 61


def _stub(service: RunningService) -> ingestion_grpc.IngestionServiceStub:
    return ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(service.address))


def _factor(stub: ingestion_grpc.IngestionServiceStub, org: str, name: str, kind: int) -> None:
    values = [
        ingestion_pb.DatedValue(
            date=common_pb.Date(year=d.year, month=d.month, day=d.day), value=float(i % 7)
        )
        for i, d in enumerate(FIRST + dt.timedelta(days=k) for k in range(DAYS))
    ]
    series = ingestion_pb.ExternalFactorSeries(name=name, type=kind, values=values)
    stub.RegisterExternalFactor(
        ingestion_pb.RegisterExternalFactorRequest(org_id=org, series=series), timeout=30
    )


def _register(stub: ingestion_grpc.IngestionServiceStub, world: sim.SimResult, org: str) -> None:
    """Factors cci (macro) and promo (promotion); experiments e1 (with a result) and e2."""
    _factor(stub, org, "cci", md_pb.EXTERNAL_FACTOR_TYPE_MACRO)
    _factor(stub, org, "promo", md_pb.EXTERNAL_FACTOR_TYPE_PROMOTION)
    for eid in ("e1", "e2"):
        stub.CreateExperiment(
            ingestion_pb.CreateExperimentRequest(
                allow_overlap=True, experiment=_experiment(world.experiments[0], eid, org=org)
            ),
            timeout=30,
        )
    stub.RecordExperimentResult(
        ingestion_pb.RecordExperimentResultRequest(
            org_id=org, experiment_id="e1", result=_result(world, experiment_id="")
        ),
        timeout=30,
    )


def _names(stub: ingestion_grpc.IngestionServiceStub, org: str) -> list[str]:
    listed = stub.ListExternalFactors(ingestion_pb.ListExternalFactorsRequest(org_id=org))
    return [s.name for s in listed.series]


def _experiments(stub: ingestion_grpc.IngestionServiceStub, org: str) -> list[str]:
    listed = stub.ListExperiments(ingestion_pb.ListExperimentsRequest(org_id=org))
    return sorted(e.experiment_id for e in listed.experiments)


def _calendar_factors(stub: ingestion_grpc.IngestionServiceStub, org: str) -> set[str]:
    days = stub.GetCalendar(
        ingestion_pb.GetCalendarRequest(
            country="US",
            start_date=common_pb.Date(year=2024, month=9, day=15),
            end_date=common_pb.Date(year=2024, month=9, day=17),
            org_id=org,
        ),
        timeout=30,
    ).days
    out = {e.name for d in days for e in d.economic_indicators}
    return out | {d.market_conditions.promotion_name for d in days} - {""}


def _causal_reads(address: str, org: str) -> tuple[list[str], list[str]]:
    """What AnalyzeAttribution reads of the registry (causal's peer): the factor series and
    the recorded lifts."""

    async def read() -> tuple[list[ExternalSeries], RegistryLifts]:
        reader = RegistryReader(address)
        try:
            factors = await reader.external_factors(org, timeout=30)
            lifts = await reader.lift_tests(org, None, None, timeout=30)
            return factors, lifts
        finally:
            await reader.close()

    factors, lifts = asyncio.run(read())
    return sorted({s.name for s in factors}), [lift.result.experiment_id for lift in lifts]


def _stored_factors(memory: memory_grpc.MemoryServiceStub) -> set[str]:
    return {
        f.name
        for b in memory.Scan(memory_pb.ScanRequest(org_id=ORG), timeout=30)
        for r in b.records
        for f in r.external_factors
    }


@pytest.fixture()
def replicas(
    services: dict[str, RunningService], tmp_path: Path
) -> Iterator[tuple[RunningService, RunningService]]:
    """The mesh's ingestion and a second replica on the same data dir."""
    with running_services(
        {"ingestion": ingestion_build}, tmp_path, peers=peers_of(services)
    ) as replica:
        yield services["ingestion"], replica["ingestion"]


def test_deleted_experiments_and_factors_are_gone_from_every_replica(
    services: dict[str, RunningService],
    replicas: tuple[RunningService, RunningService],
    world: sim.SimResult,
) -> None:
    deleting, serving = (_stub(r) for r in replicas)
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    for org in (ORG, OTHER):
        _register(deleting, world, org)
    assert _causal_reads(replicas[1].address, ORG) == (["cci", "promo"], ["e1"])
    assert _calendar_factors(serving, ORG) == {"cci", "promo"}

    # an Ingest stream of the org open on the serving replica, its factor table loaded
    lines = [dumps(world.raw["meta"].base_row(k)) for k in range(10)]
    q: queue.Queue[ingestion_pb.IngestRequest | None] = queue.Queue()
    q.put(_request(world, lines[:5], "b0"))

    def requests() -> Iterator[ingestion_pb.IngestRequest]:
        while (r := q.get()) is not None:
            yield r

    acks = serving.Ingest(requests())
    assert next(acks).accepted_count == 5
    assert _stored_factors(memory) == {"cci", "promo"}

    # a dry run lists, deletes nothing
    dry = deleting.DeleteExternalFactors(
        ingestion_pb.DeleteExternalFactorsRequest(org_id=ORG, names=["cci", "nope"], dry_run=True)
    )
    assert (list(dry.deleted_names), dry.series_count, list(dry.not_found)) == (
        ["cci"],
        1,
        ["nope"],
    )
    assert _names(serving, ORG) == ["cci", "promo"]

    done = deleting.DeleteExternalFactors(
        ingestion_pb.DeleteExternalFactorsRequest(org_id=ORG, names=["cci", "nope"])
    )
    assert (list(done.deleted_names), done.series_count) == (["cci"], 1)
    assert _names(serving, ORG) == ["promo"]
    assert _calendar_factors(serving, ORG) == {"promo"}
    assert _causal_reads(replicas[1].address, ORG)[0] == ["promo"]
    # the open stream's next batch no longer joins the deleted series
    q.put(_request(world, lines[5:], "b1", row_offset=5))
    q.put(None)
    assert [a.accepted_count for a in acks] == [5]
    assert {
        f.name
        for b in memory.Scan(memory_pb.ScanRequest(org_id=ORG), timeout=30)
        for r in b.records
        if r.natural_key in {world.raw["meta"].row_key(k) for k in range(5, 10)}
        for f in r.external_factors
    } == {"promo"}
    again = deleting.DeleteExternalFactors(
        ingestion_pb.DeleteExternalFactorsRequest(org_id=ORG, names=["cci"])
    )
    assert (list(again.deleted_names), again.series_count, list(again.not_found)) == (
        [],
        0,
        ["cci"],
    )

    # experiments: by id, dry run first; then a retry lists what is gone
    request = ingestion_pb.DeleteExperimentsRequest(org_id=ORG, experiment_ids=["e1", "zz"])
    dry_e = deleting.DeleteExperiments(
        ingestion_pb.DeleteExperimentsRequest(org_id=ORG, experiment_ids=["e1", "zz"], dry_run=True)
    )
    assert (list(dry_e.deleted_ids), list(dry_e.not_found)) == (["e1"], ["zz"])
    assert _experiments(serving, ORG) == ["e1", "e2"]
    gone = deleting.DeleteExperiments(request)
    assert (list(gone.deleted_ids), list(gone.not_found)) == (["e1"], ["zz"])
    assert _experiments(serving, ORG) == ["e2"]
    with pytest.raises(grpc.RpcError) as missing:
        serving.GetExperiment(ingestion_pb.GetExperimentRequest(org_id=ORG, experiment_id="e1"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert _causal_reads(replicas[1].address, ORG)[1] == []
    retry = deleting.DeleteExperiments(request)
    assert (list(retry.deleted_ids), list(retry.not_found)) == ([], ["e1", "zz"])

    # all of them
    every = deleting.DeleteExperiments(ingestion_pb.DeleteExperimentsRequest(org_id=ORG, all=True))
    assert list(every.deleted_ids) == ["e2"] and not every.not_found
    factors = deleting.DeleteExternalFactors(
        ingestion_pb.DeleteExternalFactorsRequest(org_id=ORG, all=True)
    )
    assert (list(factors.deleted_names), factors.series_count) == (["promo"], 1)
    assert _experiments(serving, ORG) == [] and _names(serving, ORG) == []
    assert _calendar_factors(serving, ORG) == set()
    assert _causal_reads(replicas[1].address, ORG) == ([], [])

    # the other org keeps everything
    assert _experiments(serving, OTHER) == ["e1", "e2"]
    assert _names(serving, OTHER) == ["cci", "promo"]
    assert _causal_reads(replicas[1].address, OTHER) == (["cci", "promo"], ["e1"])


_REQUESTS = {
    "experiment_ids": ingestion_pb.DeleteExperimentsRequest,
    "names": ingestion_pb.DeleteExternalFactorsRequest,
}


@pytest.mark.parametrize("listed", list(_REQUESTS))
@pytest.mark.parametrize(
    ("fields", "at"),
    [
        ({}, ""),
        ({"ids": ["e1"], "all": True}, ""),
        ({"ids": [f"e{i}" for i in range(1001)]}, ""),
        ({"ids": ["e1", ""]}, "[1]"),
        ({"ids": ["x" * 64]}, "[0]"),
        ({"org_id": "", "all": True}, None),
    ],
)
def test_a_bad_request_is_refused_naming_its_field(
    services: dict[str, RunningService], listed: str, fields: dict[str, object], at: str | None
) -> None:
    stub = _stub(services["ingestion"])
    args = {"org_id": ORG, **{listed if k == "ids" else k: v for k, v in fields.items()}}
    request = _REQUESTS[listed](**args)  # type: ignore[arg-type]
    call = stub.DeleteExperiments if listed == "experiment_ids" else stub.DeleteExternalFactors
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=30)  # type: ignore[operator]
    code, _, violations, _ = rich_error(err.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in violations] == ["org_id" if at is None else listed + at]


def test_deleting_takes_a_key_with_the_delete_scope(tmp_path: Path) -> None:
    keys = AuthConfig.parse(
        "k-ing:service=ingestion,k-user:acme,k-read:acme:experiments.read+factors.read,"
        "k-admin:acme:public+records.delete,k-other:rival:public+records.delete"
    )
    with running_services(
        {"memory": memory_build, "ingestion": ingestion_build},
        tmp_path,
        auth=keys,
        api_keys={"ingestion": "k-ing"},
    ) as services:
        stub = _stub(services["ingestion"])
        experiments = ingestion_pb.DeleteExperimentsRequest(org_id=ORG, all=True, dry_run=True)
        factors = ingestion_pb.DeleteExternalFactorsRequest(org_id=ORG, all=True, dry_run=True)
        for key in ("k-user", "k-read", "k-other"):
            metadata = (("authorization", f"Bearer {key}"),)
            for call, request in (
                (stub.DeleteExperiments, experiments),
                (stub.DeleteExternalFactors, factors),
            ):
                with pytest.raises(grpc.RpcError) as err:
                    call(request, timeout=30, metadata=metadata)  # type: ignore[operator]
                assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, key
        admin = (("authorization", "Bearer k-admin"),)
        assert not stub.DeleteExperiments(experiments, timeout=30, metadata=admin).deleted_ids
        assert not stub.DeleteExternalFactors(factors, timeout=30, metadata=admin).deleted_names
