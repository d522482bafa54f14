"""IngestionService servicer: thin — convert, call the domain off the event loop, convert.

``Ingest`` runs an :class:`ingestion_svc.stream.IngestStream` over the request stream in a
:class:`mesh.runtime.pipeline.Pipeline`: each batch is acked only after memory has made its
records durable, and batch k+1 is staged while batch k is written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import AsyncIterator

import grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

from ingestion_svc import convert, pipeline
from ingestion_svc.calendar import build_calendar
from ingestion_svc.convert.deletes import delete_target
from ingestion_svc.convert.experiments import overlap_check
from ingestion_svc.convert.result_retry import already_recorded
from ingestion_svc.experiments import ExperimentRegistry, ResultChanged
from ingestion_svc.external_factors import FactorRegistry
from ingestion_svc.ledger import BatchLedger
from ingestion_svc.peers import MemoryClient
from ingestion_svc.raw_batch import RawBatch
from ingestion_svc.stream import PIPELINE_DEPTH, IngestStream, StreamDeps
from ingestion_svc.superseded import SupersededLog, forget_erased
from mesh.runtime.audit import log_deletion
from mesh.runtime.config import DEFAULT_MAX_MESSAGE_BYTES
from mesh.runtime.pipeline import Pipeline
from mesh.runtime.protoconv import require_org


class IngestionService(ingestion_grpc.IngestionServiceServicer):
    """Ingest, the experiment registry, the calendar and the external-factor registry."""

    def __init__(
        self,
        registry: ExperimentRegistry,
        factors: FactorRegistry,
        ledger: BatchLedger,
        memory: MemoryClient,
        settings: pipeline.Settings | None = None,
        superseded: SupersededLog | None = None,
        *,
        reply_limit: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        """``reply_limit``: the server's message limit (ServerConfig.max_message_bytes), which
        a GetCalendar reply stays under."""
        self.reply_limit = reply_limit
        self.registry = registry
        self.factors = factors
        self.ledger = ledger
        self.memory = memory
        self.settings = settings or pipeline.Settings()
        self.superseded = superseded
        self._streams = StreamDeps(registry, factors, ledger, memory, self.settings, superseded)

    async def Ingest(
        self,
        request_iterator: AsyncIterator[ingestion_pb.IngestRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[ingestion_pb.IngestResponse]:
        """One ack per batch, in order, each as soon as its write returns (a client that
        waits for each ack before sending the next batch is served too)."""
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + float(remaining)
        stream = IngestStream(self._streams, deadline)

        async def stage(
            request: ingestion_pb.IngestRequest,
        ) -> tuple[ingestion_pb.IngestResponse, asyncio.Task[bytes | None]]:
            now = dt.datetime.now(dt.UTC)
            staged = await stream.stage(functools.partial(self._batch, request, now), now)
            if staged.result is None:
                reply = convert.replayed(staged.replayed_ack)
                return reply, stream.commit(staged, reply.SerializeToString())
            reply = convert.ack(staged.batch_id, staged.result)
            amend = convert.amender(staged.batch_id, staged.result)
            return reply, stream.commit(staged, reply.SerializeToString(), amend)

        try:
            async with Pipeline(request_iterator, stage, depth=PIPELINE_DEPTH) as acks:
                async for reply, committed in acks:
                    # durable in memory, recorded in the ledger; the ack as recorded when
                    # memory refused records of the batch (their rows rejected)
                    amended = await committed
                    yield (
                        reply
                        if amended is None
                        else ingestion_pb.IngestResponse.FromString(amended)
                    )
        finally:
            await stream.close()

    def _batch(self, request: ingestion_pb.IngestRequest, now: dt.datetime) -> tuple[RawBatch, str]:
        """The request's validated, parsed batch and its fingerprint."""
        batch = convert.ingest_batch(request, now, self.settings.max_clock_skew)
        return batch, convert.fingerprint(request)

    async def ForgetBatches(
        self, request: ingestion_pb.ForgetBatchesRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.ForgetBatchesResponse:
        """The org's acked batches are no longer replayed (after a DeleteRecords in memory);
        nor are those being written now, and open streams of the org reload what memory
        holds on their next batch (``BatchLedger.forget``). The versions logged as
        superseded of records memory no longer holds go too (``forget_erased``)."""
        org = require_org(request.org_id)
        forgotten = await asyncio.to_thread(self.ledger.forget, org)
        if self.superseded is not None:
            remaining = context.time_remaining()
            await forget_erased(
                self.superseded,
                org,
                lambda ids: self.memory.held(org, ids, timeout=remaining),
            )
        return ingestion_pb.ForgetBatchesResponse(forgotten_count=forgotten)

    async def DeleteExperiments(
        self, request: ingestion_pb.DeleteExperimentsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.DeleteExperimentsResponse:
        org, ids = delete_target(
            request.org_id, request.experiment_ids, request.all, field="experiment_ids"
        )
        deleted, missing = await asyncio.to_thread(
            self.registry.delete, org, ids, dry_run=request.dry_run
        )
        # the erasure's record, as memory's DeleteRecords leaves one (s19 V2-F7)
        log_deletion(
            "DeleteExperiments", org, ids, dry_run=request.dry_run, deleted=deleted,
            not_found=missing, what="experiments",
        )  # fmt: skip
        return ingestion_pb.DeleteExperimentsResponse(deleted_ids=deleted, not_found=missing)

    async def DeleteExternalFactors(
        self, request: ingestion_pb.DeleteExternalFactorsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.DeleteExternalFactorsResponse:
        org, names = delete_target(request.org_id, request.names, request.all, field="names")
        deleted, series, missing = await asyncio.to_thread(
            self.factors.delete, org, names, dry_run=request.dry_run
        )
        log_deletion(
            "DeleteExternalFactors", org, names, dry_run=request.dry_run, deleted=deleted,
            not_found=missing, what="factors", extra=f"{series:,} series, a name in a geo each",
        )  # fmt: skip
        return ingestion_pb.DeleteExternalFactorsResponse(
            deleted_names=deleted, series_count=series, not_found=missing
        )

    async def GetCalendar(
        self, request: ingestion_pb.GetCalendarRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.GetCalendarResponse:
        country, start, end, subdivision = convert.calendar_request(request)
        days = await asyncio.to_thread(build_calendar, country, start, end, subdivision=subdivision)
        out = [convert.calendar_day_to_proto(d) for d in days]
        table = None
        if request.org_id:
            org = require_org(request.org_id)
            epoch = dt.date(1970, 1, 1)
            table = await asyncio.to_thread(
                self.factors.table, org, (start - epoch).days, (end - epoch).days
            )
        # never past the message limit: the factors' share is sized before they are added
        return await asyncio.to_thread(
            convert.calendar_response, out, table, country.upper(), subdivision or "",
            limit=self.reply_limit, org_id=request.org_id,
        )  # fmt: skip

    async def RegisterExternalFactor(
        self, request: ingestion_pb.RegisterExternalFactorRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.RegisterExternalFactorResponse:
        org, series = convert.factor_series_from_proto(request)
        count = await asyncio.to_thread(self.factors.register, org, series)
        return ingestion_pb.RegisterExternalFactorResponse(value_count=count)

    async def ListExternalFactors(
        self, request: ingestion_pb.ListExternalFactorsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.ListExternalFactorsResponse:
        org = require_org(request.org_id)
        series, token = await asyncio.to_thread(
            self.factors.page,
            org,
            include_values=request.include_values,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return ingestion_pb.ListExternalFactorsResponse(
            series=[convert.factor_series_to_proto(s) for s in series], next_page_token=token
        )

    async def CreateExperiment(
        self, request: ingestion_pb.CreateExperimentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.CreateExperimentResponse:
        now = dt.datetime.now(dt.UTC)
        experiment, stored = convert.experiment_from_proto(request.experiment, now)
        # R26-F3: one of the same channel sharing days and units is refused (unless allowed);
        # the others are said. Checked in the insert's transaction: racing creates serialise.
        warnings = await asyncio.to_thread(
            self.registry.create,
            experiment,
            lambda meeting: overlap_check(stored, meeting, allow=request.allow_overlap),
        )
        return ingestion_pb.CreateExperimentResponse(experiment=stored, warnings=warnings or [])

    async def GetExperiment(
        self, request: ingestion_pb.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.GetExperimentResponse:
        org, experiment_id = convert.experiment_target(request.org_id, request.experiment_id)
        experiment = await asyncio.to_thread(self.registry.get, org, experiment_id)
        return ingestion_pb.GetExperimentResponse(
            experiment=convert.experiment_to_proto(experiment)
        )

    async def RecordExperimentResult(
        self,
        request: ingestion_pb.RecordExperimentResultRequest,
        context: grpc.aio.ServicerContext,
    ) -> ingestion_pb.RecordExperimentResultResponse:
        org, experiment_id = convert.record_result_target(request)
        experiment = await asyncio.to_thread(self.registry.get, org, experiment_id)
        stored = convert.experiment_to_proto(experiment)
        # keep: the experiment must still be without a result when this one is written (a
        # compare-and-set on the contract read here), so two recorders never both succeed
        keep = request.keep_existing
        if keep and already_recorded(request, stored):
            # a retry of a write that landed (its reply lost): answered as the first was
            return ingestion_pb.RecordExperimentResultResponse(
                experiment=stored, already_recorded=True
            )
        if keep and stored.HasField("result"):
            raise ResultChanged(
                f"experiment {experiment_id!r} already has a recorded result "
                f"(analysis {stored.result.analysis_id or 'none named'}, lift "
                f"{stored.result.lift_absolute:,.0f} ± {stored.result.lift_std_error:,.0f}); this "
                "result differs and was not recorded (the same result re-sent is answered "
                "OK): record it with replace (liftos estimate --replace) to replace that one",
                subject=f"orgs/{org}/experiments/{experiment_id}",
            )
        updated = convert.experiment_with_result(request, stored)
        try:
            await asyncio.to_thread(
                self.registry.replace_payload,
                org,
                experiment_id,
                updated.SerializeToString(),
                previous=experiment.payload if keep else None,
            )
        except ResultChanged:
            # recorded between the read and the write: by this same result re-sent, it is done
            now_stored = await asyncio.to_thread(self.registry.get, org, experiment_id)
            if not already_recorded(request, convert.experiment_to_proto(now_stored)):
                raise
            return ingestion_pb.RecordExperimentResultResponse(
                experiment=convert.experiment_to_proto(now_stored), already_recorded=True
            )
        return ingestion_pb.RecordExperimentResultResponse(experiment=updated)

    async def ListExperiments(
        self, request: ingestion_pb.ListExperimentsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.ListExperimentsResponse:
        org, page_size, page_token, active_on = convert.list_experiments_request(request)
        page, token = await asyncio.to_thread(
            self.registry.list,
            org,
            page_size=page_size,
            page_token=page_token,
            active_on=active_on,
        )
        return ingestion_pb.ListExperimentsResponse(
            experiments=[convert.experiment_to_proto(e) for e in page], next_page_token=token
        )
