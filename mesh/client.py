"""The typed Python SDK.

Low-volume calls (experiments, and later analyses, explanations, recommendations) speak
betterproto2 dataclasses, so users get plain dataclasses, ``datetime``s and enums. Bulk calls
(ingest, scan, tables) use the pb2 classes and pandas, which are ~58x faster to build and
parse (see README: "SDK message types").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import liftos_dc.liftos.v1 as dc
import pandas as pd
from grpc_health.v1 import health_pb2, health_pb2_grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.errors_wire import RpcFailure
from mesh.runtime.config import DEFAULT_MAX_MESSAGE_BYTES, SERVICES, PeerConfig
from mesh.tables import frame_to_table

T = TypeVar("T")

SERVICE_NAMES = {
    "ingestion": "liftos.v1.IngestionService",
    "memory": "liftos.v1.MemoryService",
    "causal": "liftos.v1.CausalService",
    "llm": "liftos.v1.LlmService",
    "surfacing": "liftos.v1.SurfacingService",
}


class _DefaultTimeout(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Gives every call a deadline (the betterproto2 stubs take no ``timeout`` argument)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if details.timeout is not None:
            return details
        return _CallDetails(
            details.method, self._timeout, details.metadata, details.credentials,
            getattr(details, "wait_for_ready", None), getattr(details, "compression", None),
        )  # fmt: skip

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


def _channel(target: str, timeout: float) -> grpc.Channel:
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.max_receive_message_length", DEFAULT_MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", DEFAULT_MAX_MESSAGE_BYTES),
            # dns:/// targets with several replicas spread calls across them.
            ("grpc.lb_policy_name", "round_robin"),
        ],
    )
    return grpc.intercept_channel(channel, _DefaultTimeout(timeout))


def _call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except grpc.RpcError as exc:
        raise RpcFailure.from_rpc_error(exc) from None


def _date(value: dt.date) -> dc.Date:
    return dc.Date(year=value.year, month=value.month, day=value.day)


class LiftOS:
    """A client for the whole mesh. ``org_id`` is the default org for every call."""

    def __init__(
        self,
        peers: PeerConfig | None = None,
        *,
        org_id: str = "",
        timeout: float = 60.0,
    ) -> None:
        self.peers = peers or PeerConfig.from_env()
        self.org_id = org_id
        self._channels = {s: _channel(getattr(self.peers, s), timeout) for s in SERVICES}
        self._ingestion_dc = dc.IngestionServiceStub(self._channels["ingestion"])
        self._ingestion = ingestion_grpc.IngestionServiceStub(self._channels["ingestion"])
        self._causal = causal_grpc.CausalServiceStub(self._channels["causal"])
        self._causal_dc = dc.CausalServiceStub(self._channels["causal"])

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    def __enter__(self) -> LiftOS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _org(self, org_id: str | None) -> str:
        return org_id if org_id is not None else self.org_id

    # -- health -------------------------------------------------------------------------
    def health(self, timeout: float = 2.0) -> dict[str, str]:
        """Each service's health status name, or 'UNREACHABLE'."""
        out = {}
        for service, channel in self._channels.items():
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAMES[service]), timeout=timeout
                )
                out[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError:
                out[service] = "UNREACHABLE"
        return out

    # -- experiments (betterproto2 dataclasses) -----------------------------------------
    def create_experiment(self, experiment: dc.CausalExperiment) -> dc.CausalExperiment:
        if not experiment.org_id:
            experiment.org_id = self.org_id
        request = dc.CreateExperimentRequest(experiment=experiment)
        return _call(lambda: self._ingestion_dc.create_experiment(request)).experiment  # type: ignore[return-value]

    def get_experiment(
        self, experiment_id: str, *, org_id: str | None = None
    ) -> dc.CausalExperiment:
        request = dc.GetExperimentRequest(org_id=self._org(org_id), experiment_id=experiment_id)
        return _call(lambda: self._ingestion_dc.get_experiment(request)).experiment  # type: ignore[return-value]

    def list_experiments(
        self, *, org_id: str | None = None, active_on: dt.date | None = None, page_size: int = 0
    ) -> Iterator[dc.CausalExperiment]:
        """Every experiment of the org, newest first, following page tokens."""
        token = ""
        while True:
            request = dc.ListExperimentsRequest(
                org_id=self._org(org_id),
                page_size=page_size,
                page_token=token,
                active_on=_date(active_on) if active_on else None,
            )
            reply = _call(lambda r=request: self._ingestion_dc.list_experiments(r))  # type: ignore[misc]
            yield from reply.experiments
            token = reply.next_page_token
            if not token:
                return

    # -- calendar (pb2 → DataFrame) -----------------------------------------------------
    def calendar(
        self, country: str, start: dt.date, end: dt.date, *, subdivision: str = ""
    ) -> pd.DataFrame:
        """The calendar dimension as a DataFrame, one row per date."""
        request = ingestion_pb.GetCalendarRequest(
            country=country,
            start_date=common_pb.Date(year=start.year, month=start.month, day=start.day),
            end_date=common_pb.Date(year=end.year, month=end.month, day=end.day),
            subdivision=subdivision,
        )
        reply = _call(lambda: self._ingestion.GetCalendar(request))
        return pd.DataFrame(
            {
                "date": [dt.date(d.date.year, d.date.month, d.date.day) for d in reply.days],
                "year": [d.year for d in reply.days],
                "quarter": [d.quarter for d in reply.days],
                "month": [d.month for d in reply.days],
                "iso_week": [d.week for d in reply.days],
                "day_of_week": [d.day_of_week for d in reply.days],
                "is_weekend": [d.is_weekend for d in reply.days],
                "is_holiday": [d.is_holiday for d in reply.days],
                "holiday_name": [d.holiday_name for d in reply.days],
                "season": [
                    md_pb.Season.Name(d.season).removeprefix("SEASON_").lower() for d in reply.days
                ],
                "days_to_next_holiday": [d.days_to_next_holiday for d in reply.days],
            }
        )

    # -- causal ---------------------------------------------------------------------------
    def estimate(
        self,
        data: pd.DataFrame,
        *,
        method: str = "auto",
        outcome: str,
        treatment: str,
        unit: str = "",
        time: str = "",
        covariates: Sequence[str] = (),
        instruments: Sequence[str] = (),
        running_variable: str = "",
        cutoff: float | None = None,
        cluster: str = "",
        weights: str = "",
        effect_modifiers: Sequence[str] = (),
        pre_outcome: str = "",
        estimand: str = "",
        alpha: float = 0.05,
        randomized: bool = False,
        refutation_simulations: int = 0,
        skip_refutation: bool = False,
        seed: int = 0,
        org_id: str | None = None,
    ) -> dc.EstimateEffectResponse:
        """One causal estimate on a DataFrame (sent as a columnar Table) with its checks."""
        roles = causal_pb.EffectRoles(
            outcome=outcome, treatment=treatment, unit=unit, time=time,
            covariates=list(covariates), instruments=list(instruments),
            running_variable=running_variable, cluster=cluster, weights=weights,
            effect_modifiers=list(effect_modifiers), pre_outcome=pre_outcome,
        )  # fmt: skip
        if cutoff is not None:
            roles.cutoff = cutoff
        request = causal_pb.EstimateEffectRequest(
            org_id=self._org(org_id),
            method=causal_pb.EstimationMethod.Value(f"ESTIMATION_METHOD_{method.upper()}"),
            table=frame_to_table(data),
            roles=roles,
            estimand=causal_pb.Estimand.Value(f"ESTIMAND_{estimand.upper()}") if estimand else 0,
            alpha=alpha,
            randomized=randomized,
            options=causal_pb.EstimationOptions(
                refutation_simulations=refutation_simulations,
                skip_refutation=skip_refutation,
                seed=seed,
            ),
        )
        reply = _call(lambda: self._causal.EstimateEffect(request))
        return dc.EstimateEffectResponse.parse(reply.SerializeToString())

    def get_analysis(self, analysis_id: str, *, org_id: str | None = None) -> dc.Analysis:
        request = dc.GetAnalysisRequest(org_id=self._org(org_id), analysis_id=analysis_id)
        return _call(lambda: self._causal_dc.get_analysis(request)).analysis  # type: ignore[return-value]


__all__ = ["LiftOS", "RpcFailure", "dc"]
