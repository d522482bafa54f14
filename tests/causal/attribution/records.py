"""A simulated world as the records memory would hold after ingestion: one CausalMarketingData
per campaign × geo × day (spend in org currency, Klaviyo sends as impressions, the platform's
claimed conversions and revenue) and one first-party row per geo × day (source generic,
channel first_party: the store's orders and revenue). Used to test and time AnalyzeAttribution
over real servers without the ingestion step."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import grpc
import numpy as np
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import Build, RunningService, running_services
from mesh.runtime.synthetic_records import record_id
from surfacing_svc.app import build as surfacing_build

_SOURCES = {
    "meta": common_pb.DATA_SOURCE_META,
    "google_ads": common_pb.DATA_SOURCE_GOOGLE_ADS,
    "klaviyo": common_pb.DATA_SOURCE_KLAVIYO,
    "tiktok": common_pb.DATA_SOURCE_TIKTOK,
}


def _record(org: str, source: int, name: str, campaign: str, channel: str, geo: str,
            day: dt.date, spend: float, impressions: int, conversions: float,
            revenue: float) -> md_pb.CausalMarketingData:  # fmt: skip
    nk = f"{name}|{campaign}|{geo}|{day.isoformat()}"
    r = md_pb.CausalMarketingData(
        id=record_id(org, nk), org_id=org, data_source=source,  # type: ignore[arg-type]
        campaign_id=campaign, campaign_name=campaign, channel=channel, geo=geo,
        spend=spend, impressions=impressions, conversions=conversions, revenue=revenue,
        currency_code="USD", natural_key=nk, version=1, account_id="sim", data_quality_score=0.9,
    )  # fmt: skip
    r.timestamp.FromDatetime(dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC))
    r.local_date.year, r.local_date.month, r.local_date.day = day.year, day.month, day.day
    return r


def world_records(r: sim.SimResult, org: str) -> Iterator[md_pb.CausalMarketingData]:
    """Every record of the world's first org (platform rows, then first-party rows)."""
    p = r.panel
    fx = {a["account_id"]: a["fx_to_org_currency"] for a in r.accounts}
    rate = p["account_id"].astype(str).map(fx).to_numpy(np.float64)
    klaviyo = p["source"].astype(str).to_numpy() == "klaviyo"
    imps = np.where(klaviyo, p["sends"], p["impressions"]).astype(np.int64)
    days = p["date"].dt.date.to_numpy()
    cols = zip(
        p["source"].astype(str), p["campaign_id"].astype(str), p["channel"].astype(str),
        p["region"].astype(str), days, p["spend_org"].to_numpy(np.float64), imps,
        p["platform_conversions"].to_numpy(np.float64),
        p["platform_revenue"].to_numpy(np.float64) * rate, strict=True,
    )  # fmt: skip
    for src, camp, ch, geo, day, spend, imp, conv, rev in cols:
        yield _record(org, _SOURCES[src], src, camp, ch, geo, day, round(float(spend), 2),
                      int(imp), float(conv), round(float(rev), 2))  # fmt: skip
    o = r.outcomes
    for geo, day, orders, revenue in zip(o["region"].astype(str), o["date"].dt.date,
                                         o["orders"], o["revenue"], strict=True):  # fmt: skip
        yield _record(org, common_pb.DATA_SOURCE_GENERIC, "generic", "first_party", "first_party",
                      geo, day, 0.0, 0, float(orders), float(revenue))  # fmt: skip


def moved(records: Iterable[md_pb.CausalMarketingData],
          days: Iterable[dt.date]) -> Iterator[md_pb.CausalMarketingData]:  # fmt: skip
    """Copies of ``records`` dated on each of ``days`` (new natural keys and ids): an ad
    export that runs past the orders, or stray future-dated rows."""
    days = list(days)
    for rec in records:
        for day in days:
            c = md_pb.CausalMarketingData()
            c.CopyFrom(rec)
            c.natural_key = f"{rec.natural_key.rsplit('|', 1)[0]}|{day.isoformat()}"
            c.id = record_id(rec.org_id, c.natural_key)
            c.timestamp.FromDatetime(dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC))
            c.local_date.year, c.local_date.month, c.local_date.day = day.year, day.month, day.day
            yield c


def write_records(memory: memory_grpc.MemoryServiceStub, org: str,
                  records: Iterable[md_pb.CausalMarketingData]) -> None:  # fmt: skip
    """Write records to a running memory service, in streamed batches."""
    it = iter(records)
    batches = iter(lambda: list(itertools.islice(it, 2000)), [])
    memory.Write(memory_pb.WriteRequest(org_id=org, records=b) for b in batches)


def write_world(memory: memory_grpc.MemoryServiceStub, r: sim.SimResult, org: str) -> None:
    """Write a simulated world's records to a running memory service, in streamed batches."""
    write_records(memory, org, world_records(r, org))


@contextmanager
def world_mesh(
    data_dir: Path, worlds: Mapping[str, sim.SimResult], *, surfacing: bool = False,
    extra: Mapping[str, Iterable[md_pb.CausalMarketingData]] | None = None,
) -> Iterator[dict[str, RunningService]]:  # fmt: skip
    """Memory, ingestion and causal (and surfacing) on free ports, each org's world (and its
    ``extra`` records) written to memory, as AnalyzeAttribution's tests start them."""
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build,
                               "causal": causal_build}  # fmt: skip
    if surfacing:
        builds["surfacing"] = surfacing_build
    with running_services(builds, data_dir) as services:
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
        for org, world in worlds.items():
            write_world(memory, world, org)
        for org, records in (extra or {}).items():
            write_records(memory, org, records)
        yield services


def register_holdout(
    channel: grpc.Channel, world: sim.SimResult, org: str, metric: int = 0
) -> tuple[str, str, float]:
    """The world's geo holdout and a measured result (the truth's lift, se a third of it) in
    the org's registry; its experiment id, channel and lift."""
    e = world.experiments[0]

    def day(text: str) -> common_pb.Date:
        d = dt.date.fromisoformat(text[:10])
        return common_pb.Date(year=d.year, month=d.month, day=d.day)

    registry = ingestion_grpc.IngestionServiceStub(channel)
    registry.CreateExperiment(ingestion_pb.CreateExperimentRequest(experiment=md_pb.CausalExperiment(
        org_id=org, experiment_id=e["experiment_id"], name=e["name"],
        start_date=day(e["start_date"]), end_date=day(e["end_date"]),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO, channel=e["channel"],
        treatment_units=e["treatment_units"], control_units=e["control_units"],
        treatment_type=md_pb.TREATMENT_TYPE_HOLDOUT,
    )))  # fmt: skip
    lift = float(world.truth["experiments"][0]["incremental_revenue_treated"])
    registry.RecordExperimentResult(ingestion_pb.RecordExperimentResultRequest(
        org_id=org, experiment_id=e["experiment_id"], result=md_pb.ExperimentResult(
            experiment_id=e["experiment_id"], channel=e["channel"], lift_absolute=lift,
            lift_std_error=lift / 3, spend_baseline=800.0, spend_delta=-800.0,
            treatment_unit_count=len(e["treatment_units"]),
            control_unit_count=len(e["control_units"]),
            metric=metric,  # type: ignore[arg-type]
        ),
    ))  # fmt: skip
    return e["experiment_id"], e["channel"], lift
