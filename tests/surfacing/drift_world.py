"""A simulated world written to memory in two pulls (the analysis's window, then later days),
and restatements of days inside the window: the data-drift tests of the surfacing verbs, the
report and ``liftos compare`` share it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import grpc
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from tests.causal.attribution.records import world_records, write_records

ORG = "drift"
WORLD = sim.simulate("demo", seed=0, dirt=False, n_geos=10, days=120)
START = dt.date(2024, 9, 15)
CUT = dt.date(2024, 12, 8)  # the analysis's window ends here (85 days)
RESTATED = (dt.date(2024, 12, 6), dt.date(2024, 12, 7), dt.date(2024, 12, 8))


def _day(r: md_pb.CausalMarketingData) -> dt.date:
    return dt.date(r.local_date.year, r.local_date.month, r.local_date.day)


def records(*, until: dt.date | None = None, after: dt.date | None = None) -> list:
    """The world's records dated up to ``until`` / after ``after``."""
    return [
        r for r in world_records(WORLD, ORG)
        if (until is None or _day(r) <= until) and (after is None or _day(r) > after)
    ]  # fmt: skip


def restated(
    days: Iterable[dt.date], *, revenue: float = 1.05, channel: str = "", spend: float = 1.0
) -> Iterator[md_pb.CausalMarketingData]:
    """A newer version of ``days``' rows: first-party revenue × ``revenue``, and ``channel``'s
    spend × ``spend`` (a later pull restating them)."""
    wanted = set(days)
    for r in world_records(WORLD, ORG):
        if _day(r) not in wanted:
            continue
        first_party = r.data_source == common_pb.DATA_SOURCE_GENERIC
        if not (first_party or (channel and r.channel == channel)):
            continue
        c = md_pb.CausalMarketingData()
        c.CopyFrom(r)
        c.version = r.version + 1
        if first_party:
            c.revenue = round(r.revenue * revenue, 2)
        else:
            c.spend = round(r.spend * spend, 2)
        yield c


def first_party_revenue(days: Iterable[dt.date]) -> float:
    """The world's first-party revenue on ``days``, as written."""
    wanted = set(days)
    return sum(
        r.revenue for r in world_records(WORLD, ORG)
        if r.data_source == common_pb.DATA_SOURCE_GENERIC and _day(r) in wanted
    )  # fmt: skip


def write(address: str, rows: Iterable[md_pb.CausalMarketingData]) -> None:
    write_records(memory_grpc.MemoryServiceStub(grpc.insecure_channel(address)), ORG, rows)


def analyze(address: str, end: dt.date = CUT) -> causal_pb.AttributionResult:
    """AnalyzeAttribution over START..end (national identification: quick and stable)."""
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(address))
    request = causal_pb.AnalyzeAttributionRequest(
        org_id=ORG, identification=causal_pb.ATTRIBUTION_IDENTIFICATION_NATIONAL
    )
    for field, d in (("start_date", START), ("end_date", end)):
        getattr(request.date_range, field).CopyFrom(
            common_pb.Date(year=d.year, month=d.month, day=d.day)
        )
    return list(causal.AnalyzeAttribution(request, timeout=300))[-1].result
