"""An attribution whose product-report spend passes memory's message limit (s18, R32 F3's
class): the attribution reads that spend only to say how much of it the model leaves out, so
memory's REPLY_TOO_LARGE for it is said in that warning (not totalled, the model unaffected,
memory's words: no --start/--end, review V4 F2), and the analysis runs — not RESOURCE_EXHAUSTED for the
whole analysis (nor INTERNAL, as before 44928c1). Memory's limit is lowered between the
campaign sums' reply and the product spend's: real memory (restarted on the same data and
port), ingestion and causal, a simulated world with product report rows beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.protoconv import campaign_sources
from mesh.runtime.reply_limit import reply_budget
from tests.causal.attribution.records import write_world
from tests.causal.contract.test_attribution_reply_limit import (  # noqa: F401
    ORG,
    Memory,
    _analyze,
    memory,  # the module's own server: restarted with each limit
)
from tests.memory.conftest import write

BIG = 64 << 20
PRODUCTS = 120


def _report_rows(days: list[dt.date]) -> Iterator[md_pb.CausalMarketingData]:
    """A Google shopping report row per product and day."""
    for p in range(PRODUCTS):
        for day in days:
            key = f"google|a|shop|prod-{p:03d}|{day}"
            r = md_pb.CausalMarketingData(
                id=f"id-{key}", org_id=ORG, data_source=common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
                natural_key=key, version=1, currency_code="USD", channel="google_shopping",
                local_date=common_pb.Date(year=day.year, month=day.month, day=day.day),
                product=md_pb.ProductDimension(product_id=f"prod-{p:03d}"), spend=2.5 + p % 7,
                impressions=300, clicks=9, conversions=1.0, revenue=20.0, campaign_id="shop",
            )  # fmt: skip
            r.timestamp.FromDatetime(dt.datetime.combine(day, dt.time()))
            yield r


@pytest.fixture(scope="module")
def sizes(memory: Memory) -> tuple[int, int]:  # noqa: F811
    """The world and its product reports written; (bytes of causal's AggregateRecords with
    campaign_geo_days, bytes of its spend_only AggregateProducts) under the default limit."""
    world = sim.simulate("demo", seed=1, dirt=False, n_geos=10)
    days = sorted({d.date() for d in world.panel["date"]})
    address = memory.start(BIG)
    options = [("grpc.max_receive_message_length", BIG)]
    with grpc.insecure_channel(address, options=options) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        write_world(stub, world, ORG)
        write(stub, ORG, list(_report_rows(days)), batch=2000)
        ask = memory_pb.AggregateRecordsRequest(org_id=ORG, sources=campaign_sources(),
                                                campaign_geo_spend=True)  # fmt: skip
        sums = stub.AggregateRecords(ask, timeout=60).ByteSize()
        spend = memory_pb.AggregateProductsRequest(org_id=ORG, spend_only=True)
        products = stub.AggregateProducts(spend, timeout=60).ByteSize()
    return sums, products


def test_product_spend_past_the_limit_is_the_warnings_unread_and_the_analysis_runs(
    tmp_path_factory: pytest.TempPathFactory,
    memory: Memory,  # noqa: F811
    sizes: tuple[int, int],
) -> None:
    sums, products = sizes
    limit = (sums + products) // 2
    assert sums < reply_budget(limit) < products, sizes
    memory.start(limit)
    peers = PeerConfig.from_env().with_overrides(memory=f"127.0.0.1:{memory.port}")
    builds = {"ingestion": ingestion_build, "causal": causal_build}
    with (
        running_services(builds, tmp_path_factory.mktemp("mesh"), peers=peers) as services,
        grpc.insecure_channel(services["causal"].address) as channel,
    ):
        _, result = _analyze(causal_grpc.CausalServiceStub(channel))
    assert result.channels  # the attribution itself ran
    (said,) = [w for w in result.warnings if "product-report spend" in w]
    assert "too large for one reply of memory's AggregateProducts" in said, said
    # only this note reads it: the model is not to be cut into windows for it (review V4 F2)
    assert "--start" not in said and "unaffected" in said, said
    assert f"this server's {limit:,} bytes message limit" in said, said
