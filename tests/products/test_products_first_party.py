"""R25-F6: AnalyzeProducts compares the products' net sales with the org's first-party revenue
over the same days and warns when they differ by more than tax, shipping and refunds explain,
saying which is which. The simulator's products world is such an org: its orders outcome (the
attribution's, source generic) is several times its Shopify order lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2_grpc as ing_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc

from causal_svc.app import build as causal_build
from causal_svc.product_analysis import ProductPanel, first_party_gap
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from tests.causal.attribution.records import _record, write_records
from tests.products.test_products_mesh import ORG, exports, requests, small_world


def _panel(net_sales: float) -> ProductPanel:
    return ProductPanel(
        frame=pd.DataFrame(), channels=("meta_catalogue",), currency="USD",
        start=dt.date(2023, 7, 1), end=dt.date(2023, 10, 28),
        categories=pd.DataFrame({"category": ["Tops"], "revenue": [net_sales]}),
        products=pd.DataFrame(),
    )  # fmt: skip


def _currencies(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(s, "first_party" if s == "generic" else "meta", c, 0.0, r) for s, c, r in rows],
        columns=["source", "channel", "currency", "spend", "revenue"],
    )


def test_the_gap_is_said_beyond_the_ratio_either_way_in_the_panel_s_currency() -> None:
    assert first_party_gap(_panel(100.0), _currencies([("generic", "USD", 130.0)])) == ""
    below = first_party_gap(_panel(17_465_447.0), _currencies([("generic", "USD", 96_412_171.0),
                                                               ("meta", "USD", 5e8)]))  # fmt: skip
    assert below.startswith("the products' net sales, 17,465,447 USD (Shopify order lines")
    assert (
        "are 5.5x below the org's first-party revenue over the same days, 96,412,171 USD" in below
    )
    above = first_party_gap(_panel(400.0), _currencies([("generic", "USD", 100.0)]))
    assert "are 4.0x above the org's first-party revenue" in above
    # revenue in another currency, or none at all: nothing to compare
    assert first_party_gap(_panel(400.0), _currencies([("generic", "EUR", 100.0)])) == ""
    assert first_party_gap(_panel(400.0), pd.DataFrame()) == ""


def test_analyze_products_warns_when_the_first_party_revenue_is_another_size(
    tmp_path: Path,
) -> None:
    world = small_world()
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path) as services:
        ingestion = ing_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        for source, lines in exports(world).items():
            list(ingestion.Ingest(requests(world, source, lines, "first")))
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))

        def warnings() -> list[str]:
            events = list(causal.AnalyzeProducts(causal_pb.AnalyzeProductsRequest(org_id=ORG)))
            return [w for w in events[-1].result.warnings if "first-party revenue" in w]

        assert warnings() == []  # only product records: nothing to compare with
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
        o = world.outcomes
        write_records(memory, ORG, (
            _record(ORG, common_pb.DATA_SOURCE_GENERIC, "generic", "first_party", "first_party",
                    geo, day, 0.0, 0, float(orders), float(revenue))
            for geo, day, orders, revenue in zip(o["region"].astype(str), o["date"].dt.date,
                                                 o["orders"], o["revenue"], strict=True)
        ))  # fmt: skip
        (said,) = warnings()
    first_party = float(o["revenue"].sum())
    assert f"over the same days, {first_party:,.0f} USD" in said
    assert "below the org's first-party revenue" in said and "generic source" in said
