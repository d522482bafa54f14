"""The causal service's peers: memory (Scan records into DataFrames; AggregateRecords sums
for attribution) and the experiment registry (ingestion's GetExperiment, ListExperiments).

Batches are converted as they arrive, so the records never sit in memory twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import table_pb2 as table_pb

from causal_svc.convert.aggregates import campaign_geo_frame
from causal_svc.errors import InsufficientData, InvalidSpec, MemoryUnavailable, ReplyTooLarge
from causal_svc.record_tables import ExperimentDesign
from mesh.runtime.exceptions import (
    DependencyUnavailable,
    FieldViolation,
    InvalidInput,
    ResourceExhausted,
)
from mesh.runtime.frames import enum_name, records_to_frame
from mesh.runtime.peers import (
    Peer,
    exhausted,
    experiments,
    external_factor_series,
    refused,
    unavailable,
    unreachable,
)
from mesh.runtime.protoconv import campaign_sources, set_date_range
from mesh.runtime.scan_days import scan_local_days, within_local_days
from mesh.runtime.status import decode_status
from mesh.runtime.tables import table_to_frame
from mesh.runtime.usual_days import RegisteredTests, registered_tests

SCAN_BATCH = 5000
# memory's refusal of a reply past its message limit (memory.proto, AggregateRecords)
REPLY_TOO_LARGE = "REPLY_TOO_LARGE"


class MemoryReader(Peer["memory_grpc.MemoryServiceAsyncStub"]):  # quoted: AsyncStub is .pyi-only
    """Scans the memory service's records into DataFrames."""

    def __init__(self, target: str, *, timeout: float = 600.0) -> None:
        super().__init__(target, memory_grpc.MemoryServiceStub, timeout=timeout)

    async def scan_frame(
        self,
        org_id: str,
        *,
        start: dt.date | None,
        end: dt.date | None,
        sources: list[int],
        campaign_ids: list[str],
        channels: list[str],
        timeout: float | None = None,
    ) -> pd.DataFrame:
        """Every matching record as one frame (core + external-factor columns).

        ``timeout`` is the caller's remaining time, when it has a deadline: the Scan gets no
        more than that (nor more than this reader's own limit).
        """
        request = memory_pb.ScanRequest(
            org_id=org_id,
            sources=campaign_sources(sources),  # none named: campaign sources, not product ones
            campaign_ids=campaign_ids,
            channels=channels,
            batch_size=SCAN_BATCH,
        )
        scan_local_days(request, start, end)  # the local days kept exactly below
        parts: list[pd.DataFrame] = []
        try:
            async for batch in self.stub().Scan(request, timeout=self.within(timeout)):
                if batch.records:
                    # Decoded off the loop: 300k records are ~5 s of pandas (R16-F2).
                    parts.append(await asyncio.to_thread(_scan_part, batch))
        except grpc.aio.AioRpcError as error:
            raise _memory_failure(error, self.target, "Scan", org_id) from None
        if not parts:
            raise InsufficientData("no records match the query", subject="records")
        return await asyncio.to_thread(within_local_days, parts, start, end)

    async def aggregate(
        self, org_id: str, start: dt.date | None, end: dt.date | None,
        *, measures: Sequence[str] = (), campaign_geo: bool = False,
        timeout: float | None = None,
    ) -> Aggregates:  # fmt: skip
        """The org's records summed where they live (AggregateRecords), as DataFrames; the
        geo-day table has the columns of ``measures`` only (empty: all four sums), and with
        ``campaign_geo`` the spend per day × geo × campaign comes too."""
        return await _aggregate(self, org_id, start, end, measures=measures,
                                campaign_geo=campaign_geo, timeout=timeout)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProductSums:
    """Memory's product sums (AggregateProducts): sales, spend and catalogue tables."""

    sales: pd.DataFrame
    spend: pd.DataFrame
    catalogue: pd.DataFrame
    record_count: int


async def aggregate_products(
    reader: MemoryReader, org_id: str, start: dt.date | None, end: dt.date | None,
    *, timeout: float | None = None, spend_only: bool = False,
    command: str = "liftos analyze-products",
) -> ProductSums:  # fmt: skip
    """The org's product records summed where they live (AggregateProducts), as DataFrames;
    with ``spend_only``, the product reports' spend alone (memory sums no order lines and
    sends no catalogue; a memory older than the field sends them anyway).

    Raises
    ------
    ReplyTooLarge
        REPLY_TOO_LARGE: the window's sums pass memory's message limit; the message names
        ``command``'s --start/--end (the analysis that asked) and memory's words, which
        ``memory_says`` also carries as they came.
    """
    request = memory_pb.AggregateProductsRequest(org_id=org_id, spend_only=spend_only)
    set_date_range(request.date_range, start, end)
    try:
        reply = await reader.stub().AggregateProducts(request, timeout=reader.within(timeout))
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            raise InsufficientData(
                f"org {org_id!r} has no product records in memory: ingest its orders, catalogue "
                "and product reports first",
                subject="products",
            ) from None
        too_large = _reply_too_large(error, "AggregateProducts", command)
        if too_large is not None:
            raise too_large from None
        raise _memory_failure(error, reader.target, "AggregateProducts", org_id) from None
    return ProductSums(
        table_to_frame(reply.sales),
        table_to_frame(reply.spend),
        table_to_frame(reply.catalogue),
        reply.record_count,
    )


@dataclass(frozen=True, slots=True)
class Aggregates:
    """Memory's sums for a window: per day × geo and per day × campaign, and how many records;
    when asked, the spend per day × geo × campaign as long rows (``date``, ``geo``, ``source``,
    ``channel``, ``campaign_id``, ``spend``: what the budget-response detector reads)."""

    geo_days: pd.DataFrame
    campaign_days: pd.DataFrame
    record_count: int
    campaign_geo_days: pd.DataFrame | None = None
    # money per (source, channel, currency): the currencies the sums are in (empty from a
    # memory that does not say)
    currencies: pd.DataFrame = field(default_factory=pd.DataFrame)
    # campaign id → name (its latest record's), for the campaigns memory has a name of
    campaign_names: dict[str, str] = field(default_factory=dict)
    # why memory left campaign_geo_days out although asked (its size against memory's
    # message limit); "" when sent or not asked
    campaign_geo_omitted: str = ""


async def _aggregate(
    reader: MemoryReader, org_id: str, start: dt.date | None, end: dt.date | None,
    *, measures: Sequence[str] = (), campaign_geo: bool = False, timeout: float | None = None,
) -> Aggregates:  # fmt: skip
    """The org's records summed where they live (AggregateRecords), as DataFrames."""
    request = memory_pb.AggregateRecordsRequest(
        org_id=org_id, measures=list(measures), sources=campaign_sources(),
        campaign_geo_spend=campaign_geo,
    )  # fmt: skip
    set_date_range(request.date_range, start, end)
    try:
        reply = await reader.stub().AggregateRecords(request, timeout=reader.within(timeout))
    except grpc.aio.AioRpcError as error:
        raise _memory_failure(error, reader.target, "AggregateRecords", org_id) from None
    per_campaign = None
    if reply.HasField("campaign_geo_days"):
        per_campaign = await asyncio.to_thread(campaign_geo_frame, reply.campaign_geo_days)
    return Aggregates(table_to_frame(reply.geo_days), table_to_frame(reply.campaign_days),
                      reply.record_count, per_campaign,
                      table_to_frame(reply.currencies), _campaign_names(reply.campaign_names),
                      reply.campaign_geo_days_omitted)  # fmt: skip


def _campaign_names(table: table_pb.Table) -> dict[str, str]:
    """AggregateRecords' campaign_names as id → name (empty from a memory that sends none)."""
    cols = {c.name: list(c.strings.values) for c in table.columns}
    return dict(zip(cols.get("campaign_id", []), cols.get("name", []), strict=True))


@dataclass(frozen=True, slots=True)
class ExternalSeries:
    """A registered external factor: its name, geo ("" for every geo), daily values and kind
    ("macro", "competitor", "promotion", …)."""

    name: str
    geo: str
    days: tuple[dt.date, ...]
    values: tuple[float, ...]
    kind: str = ""


@dataclass(frozen=True, slots=True)
class RegisteredLift:
    """An analysed experiment of the registry: its result and treated units."""

    result: md_pb.ExperimentResult
    treatment_units: tuple[str, ...]


class RegistryLifts(list[RegisteredLift]):
    """The registry's lifts an analysis may use, and in ``skipped`` the warnings for the
    ones it may not (a list, so a caller that only iterates reads the kept ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[str] = []


# The outcome an attribution models → the metric a lift test must have measured to calibrate
# it (UNSPECIFIED: a result that does not say, taken as the analysis's, as a request's is).
_OUTCOME_METRICS = {
    "revenue": common_pb.OUTCOME_METRIC_REVENUE,
    "conversions": common_pb.OUTCOME_METRIC_CONVERSIONS,
}


def _metric_skip(result: md_pb.ExperimentResult, experiment_id: str, outcome: str | None) -> str:
    """Why a registry result cannot calibrate an analysis of ``outcome`` ("" when it can): a
    lift measured in another unit (revenue for a conversions analysis) mixes units."""
    wanted = _OUTCOME_METRICS.get(outcome or "")
    if wanted is None or result.metric in (common_pb.OUTCOME_METRIC_UNSPECIFIED, wanted):
        return ""
    measured = enum_name("outcome_metric", result.metric)
    return (
        f"registry experiment {experiment_id} not used: it measured {measured}, the analysis "
        f"models {outcome} (a lift in another unit cannot calibrate it)"
    )


async def _registry_lifts(
    reader: RegistryReader, org_id: str, start: dt.date | None, end: dt.date | None,
    *, outcome: str | None = None, timeout: float | None = None,
) -> RegistryLifts:  # fmt: skip
    """The registry's analysed experiments whose test window overlaps [start, end] and whose
    metric is ``outcome``'s (when given; the others are skipped with a warning)."""
    out = RegistryLifts()
    try:
        async for e in experiments(reader, org_id, timeout=timeout):
            r = e.result
            if not e.HasField("result") or r.lift_std_error <= 0:
                continue
            if not r.channel:  # stored before the registry required one (R12-F13)
                out.skipped.append(
                    f"registry experiment {r.experiment_id or e.experiment_id} not used: its "
                    "result names no channel (record it again with the channel the test changed)"
                )
                continue
            w = r.window if r.HasField("window") else None
            first = _date(w.start_date) if w else _date(e.start_date)
            last = _date(w.end_date) if w else _date(e.end_date)
            if first is None or last is None:
                continue
            if (end is not None and first > end) or (start is not None and last < start):
                if said := _outside_skip(r.experiment_id or e.experiment_id, r.channel, first,
                                         last, start, end):  # fmt: skip
                    out.skipped.append(said)
                continue
            if skip := _metric_skip(r, r.experiment_id or e.experiment_id, outcome):
                out.skipped.append(skip)
                continue
            result = md_pb.ExperimentResult()
            result.CopyFrom(r)
            if not result.HasField("window"):
                result.window.start_date.CopyFrom(e.start_date)
                result.window.end_date.CopyFrom(e.end_date)
            result.experiment_id = result.experiment_id or e.experiment_id
            out.append(RegisteredLift(result, tuple(e.treatment_units)))
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            return out
        raise _registry_failure(error, reader.target, "ListExperiments") from None
    return out


# A test that ended more than this long before the analysed period is not named (old tests
# would crowd every analysis's warnings; a year earlier the channel's returns were others).
_RECENT_BEFORE = dt.timedelta(days=365)


def _outside_skip(
    experiment_id: str, channel: str, first: dt.date, last: dt.date,
    start: dt.date | None, end: dt.date | None,
) -> str:  # fmt: skip
    """Why a recorded lift whose window misses the analysed period [start, end] is not used,
    where it is relevant ("" where not): one that starts after the period ends (R5-F7: a
    result recorded for next quarter's test was dropped silently), or ended within a year
    before it starts."""
    test = f"registry experiment {experiment_id} ({channel}, {first}..{last}) not used: "
    if end is not None and first > end:
        return (test + f"it starts after the analysed period ends ({end}); an analysis whose "
                f"period reaches {first}..{last} can be calibrated by it")  # fmt: skip
    if start is not None and last < start and start - last <= _RECENT_BEFORE:
        return (test + f"it ended before the analysed period starts ({start}); an analysis "
                f"whose period reaches back to {first}..{last} can be calibrated by it")  # fmt: skip
    return ""


def _date(d: common_pb.Date) -> dt.date | None:
    try:
        return dt.date(d.year, d.month, d.day)
    except ValueError:
        return None


def _memory_failure(error: grpc.aio.AioRpcError, target: str, rpc: str, org_id: str) -> Exception:
    """What a failed read of memory means here: memory away, no records, a refused query,
    a reply past memory's limit, memory busy (:func:`_exhausted`), or (anything else) the
    call's own error."""
    code = error.code()
    if unreachable(code, error):
        return unavailable(
            MemoryUnavailable, "memory service", target, code, rpc,
            dependency="memory", then=f": {error.details()}",
        )  # fmt: skip
    if code is grpc.StatusCode.NOT_FOUND:
        return InsufficientData(f"org {org_id!r} has no records in memory", subject="records")
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return _refused_query(error)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return _reply_too_large(error, rpc) or _peer_exhausted(error, "memory service", target, rpc)
    denied = refused(code, error.details(), caller="causal", peer="memory service", call=rpc,
                     dependency="memory")  # fmt: skip
    return denied or error


def _reply_too_large(
    error: grpc.aio.AioRpcError, rpc: str, command: str = "liftos analyze"
) -> ReplyTooLarge | None:
    """Memory's answer for the window passing the message limit — memory's own refusal
    (REPLY_TOO_LARGE, naming the size and the days that fit), or gRPC's (an older memory, or
    this side's receive limit: "message larger than max") — as the caller's to narrow with
    ``command``'s --start/--end: the window is what grows the reply. None for any other
    RESOURCE_EXHAUSTED (an overload)."""
    if error.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    status = decode_status(error)
    if status.reason != REPLY_TOO_LARGE and not (
        not status.carried and "larger than max" in status.message
    ):
        return None
    return ReplyTooLarge(
        # the remedy before memory's words: a long message is clipped at its end
        f"the window's sums are too large for one reply of memory's {rpc}: analyse a shorter "
        f"window with {command} --start/--end (the request's date_range), and read the rest "
        f"as further windows; memory: {status.message}",
        memory_says=status.message,
    )


def _refused_query(error: grpc.aio.AioRpcError) -> InvalidSpec:
    """Memory's refusal of the scan a RecordQuery became (a campaign or channel the org has
    no records of, …), as the caller's mistake: its fields are the query's, under
    ``records.``."""
    status = decode_status(error)
    violations = [
        FieldViolation(f"records.{field}" if field else "records", description)
        for field, description in status.field_violations
    ]
    message = status.message or "memory refused the records query"
    return InvalidSpec(
        message,
        violations=violations or [FieldViolation("records", message)],
        reason=status.reason or None,
    )


def _registry_unavailable(target: str, error: grpc.aio.AioRpcError, rpc: str) -> Exception:
    """The registry out of reach, as the caller's dependency error."""
    return unavailable(
        DependencyUnavailable, "ingestion service (experiment registry)", target, error.code(),
        rpc, dependency="ingestion", then=f": {error.details()}",
    )  # fmt: skip


def _registry_failure(error: grpc.aio.AioRpcError, target: str, rpc: str) -> Exception:
    """A failed call to ingestion: out of reach (UNAVAILABLE), busy or past a limit
    (:func:`_exhausted`), our key refused (PEER_REFUSED, naming the call), or (anything else)
    the call's own error."""
    if unreachable(error.code(), error):
        return _registry_unavailable(target, error, rpc)
    if error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return _peer_exhausted(error, "ingestion service (experiment registry)", target, rpc)
    denied = refused(error.code(), error.details(), caller="causal", peer="ingestion service",
                     call=rpc, dependency="ingestion")  # fmt: skip
    return denied or error


class RegistryRefused(Exception):
    """The registry answered RecordExperimentResult with an error (not an outage)."""


class RegistryReader(Peer["ingestion_grpc.IngestionServiceAsyncStub"]):
    """Reads an experiment's design from the ingestion service's registry."""

    def __init__(self, target: str, *, timeout: float = 30.0) -> None:
        super().__init__(target, ingestion_grpc.IngestionServiceStub, timeout=timeout)

    async def experiment(
        self, org_id: str, experiment_id: str, *, timeout: float | None = None,
        field: str = "experiment_id",
    ) -> md_pb.CausalExperiment | None:  # fmt: skip
        """The registered experiment, or None when the registry has no such experiment
        (``timeout``: the caller's remaining time, as for :meth:`MemoryReader.scan_frame`).
        An id the registry refuses as malformed is the caller's INVALID_ARGUMENT on ``field``
        (where the caller's request carries the id), in the registry's words."""
        request = ingestion_pb.GetExperimentRequest(org_id=org_id, experiment_id=experiment_id)
        try:
            reply = await self.stub().GetExperiment(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None
            if error.code() is grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidInput(
                    f"{field}: the experiment registry refuses the id: {error.details()}",
                    field=field,
                ) from None
            raise _registry_failure(error, self.target, "GetExperiment") from None
        return reply.experiment

    async def record_result(
        self,
        org_id: str,
        result: md_pb.ExperimentResult,
        *,
        timeout: float | None = None,
        keep: bool = False,
    ) -> md_pb.CausalExperiment:
        """Store ``result`` as its experiment's result (RecordExperimentResult); with ``keep``,
        only if the experiment has none (RecordExperimentResultRequest.keep_existing). Raises
        DependencyUnavailable when the registry cannot be reached, RegistryRefused when it
        refuses the result (or keeps the one it has)."""
        request = ingestion_pb.RecordExperimentResultRequest(
            org_id=org_id, experiment_id=result.experiment_id, result=result, keep_existing=keep
        )
        try:
            reply = await self.stub().RecordExperimentResult(request, timeout=self.within(timeout))
        except grpc.aio.AioRpcError as error:
            if unreachable(error.code(), error):
                raise _registry_unavailable(self.target, error, "RecordExperimentResult") from None
            raise RegistryRefused(
                f"the registry refused the result ({error.code().name}): {error.details()}"
            ) from None
        return reply.experiment

    async def lift_tests(
        self, org_id: str, start: dt.date | None, end: dt.date | None,
        *, outcome: str | None = None, timeout: float | None = None,
    ) -> RegistryLifts:  # fmt: skip
        """The analysed experiments whose test window overlaps [start, end]; with ``outcome``
        ("revenue", "conversions"), only those that measured it — the others' warnings are in
        the answer's ``skipped``."""
        return await _registry_lifts(self, org_id, start, end, outcome=outcome, timeout=timeout)

    async def tests(self, org_id: str, *, timeout: float | None = None) -> RegisteredTests:
        """The org's experiments that ran or run, with their channel and treatment window
        (:func:`mesh.runtime.usual_days.registered_test`): a future window's template keeps
        out of them. A registry that cannot be read is said in the answer's ``unread``, not
        raised: the counterfactual stands without it, and says so."""
        return await registered_tests(self, org_id, timeout=timeout)

    async def external_factors(
        self, org_id: str, *, timeout: float | None = None
    ) -> list[ExternalSeries]:
        """The org's registered external series with their values (macro index, competitor
        activity, promotions, …): the confounders attribution controls for."""
        out: list[ExternalSeries] = []
        try:
            async for series in external_factor_series(self, org_id, timeout=timeout):
                days, values = [], []
                for v in series.values:
                    day = _date(v.date)
                    if day is not None:
                        days.append(day)
                        values.append(v.value)
                kind = enum_name("external_factor_type", series.type)
                out.append(
                    ExternalSeries(series.name, series.geo, tuple(days), tuple(values), kind)
                )
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return out
            if unreachable(error.code(), error):
                raise unavailable(
                    DependencyUnavailable, "ingestion service (external factors)",
                    self.target, error.code(), "ListExternalFactors",
                    dependency="ingestion", then=f": {error.details()}",
                ) from None  # fmt: skip
            raise _registry_failure(error, self.target, "ListExternalFactors") from None
        return out


def design_of(e: md_pb.CausalExperiment) -> ExperimentDesign:
    """A registered experiment's design: its window and explicit arms."""
    return ExperimentDesign(
        experiment_id=e.experiment_id,
        start=dt.date(e.start_date.year, e.start_date.month, e.start_date.day),
        end=dt.date(e.end_date.year, e.end_date.month, e.end_date.day),
        treatment_units=tuple(e.treatment_units),
        control_units=tuple(e.control_units),
        # The pre-period the design or registration stated (R26-F4); None: unset or invalid.
        pre_period_start=_date_or_none(e.pre_period_start)
        if e.HasField("pre_period_start")
        else None,
    )


def _date_or_none(d: common_pb.Date) -> dt.date | None:
    try:
        return dt.date(d.year, d.month, d.day)
    except ValueError:
        return None


def _scan_part(batch: memory_pb.ScanResponse) -> pd.DataFrame:
    return records_to_frame(batch.records, groups=("core", "external"))


def _peer_exhausted(
    error: grpc.aio.AioRpcError, peer: str, target: str, call: str
) -> ResourceExhausted:
    """:func:`mesh.runtime.peers.exhausted` for the causal service's calls."""
    return exhausted(error, caller="causal", peer=peer, target=target, call=call)
