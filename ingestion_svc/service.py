"""IngestionService servicer: thin — convert, call the domain off the event loop, convert."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

from ingestion_svc import convert
from ingestion_svc.calendar import build_calendar
from ingestion_svc.experiments import ExperimentRegistry
from mesh.runtime.protoconv import date_from_proto, require_org


class IngestionService(ingestion_grpc.IngestionServiceServicer):
    """Experiment registry and calendar now; Ingest lands with issue #4."""

    def __init__(self, registry: ExperimentRegistry) -> None:
        self._registry = registry

    async def GetCalendar(
        self, request: ingestion_pb.GetCalendarRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.GetCalendarResponse:
        country, start, end, subdivision = convert.calendar_request(request)
        days = await asyncio.to_thread(build_calendar, country, start, end, subdivision=subdivision)
        return ingestion_pb.GetCalendarResponse(
            days=[convert.calendar_day_to_proto(d) for d in days]
        )

    async def CreateExperiment(
        self, request: ingestion_pb.CreateExperimentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.CreateExperimentResponse:
        now = dt.datetime.now(dt.UTC)
        experiment, stored = convert.experiment_from_proto(request.experiment, now)
        await asyncio.to_thread(self._registry.create, experiment)
        return ingestion_pb.CreateExperimentResponse(experiment=stored)

    async def GetExperiment(
        self, request: ingestion_pb.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.GetExperimentResponse:
        org = require_org(request.org_id)
        experiment = await asyncio.to_thread(self._registry.get, org, request.experiment_id)
        return ingestion_pb.GetExperimentResponse(
            experiment=convert.experiment_to_proto(experiment)
        )

    async def ListExperiments(
        self, request: ingestion_pb.ListExperimentsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb.ListExperimentsResponse:
        org = require_org(request.org_id)
        active_on = date_from_proto(request.active_on, "active_on", required=False)
        page, token = await asyncio.to_thread(
            self._registry.list,
            org,
            page_size=request.page_size,
            page_token=request.page_token,
            active_on=active_on,
        )
        return ingestion_pb.ListExperimentsResponse(
            experiments=[convert.experiment_to_proto(e) for e in page], next_page_token=token
        )
