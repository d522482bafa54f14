"""Platform claims where the platform reported no conversions (audit R15-F3), over a real mesh:
Meta's region breakdown returns no off-Meta purchase actions, so ingestion flags such rows
(``conversions_unreported``), memory sums them apart per campaign-day (AggregateRecords'
``unreported_records`` / ``unreported_spend``), and the attribution says per channel and
campaign which share of the spend the platform did not report: its platform figures read
"not reported", or "partial" with the ROAS over the reported spend only — never a claim of 0.
Channels the platforms reported are as they were.

Two orgs of one simulated world: REPORTED has every record as the platforms claimed them
(written to memory as ingestion would); REGION has the same Google, TikTok, Klaviyo and
first-party records, and its Meta rows ingested through IngestionService.Ingest from Meta's
export: every prospecting row, and the first half of the retargeting days, in one batch with
no purchase action anywhere (the region pull), the other retargeting days in a batch with
their purchases."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.connectors.meta import PURCHASES, RETARGETING
from mesh.cli.commands import main
from mesh.runtime.tables import table_to_frame

from .records import world_mesh, world_records

REPORTED = "metareported"
REGION = "metaregion"
PULLED = dt.datetime(2025, 1, 20, 6, 0)


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=10)


def _meta_rows(world: sim.SimResult) -> list[dict[str, Any]]:
    export = world.raw["meta"]
    return [export.base_row(k) for k in range(export.n_base)]


def _split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the region pull without purchase actions, the retargeting rows that keep them)."""
    retargeting = [r for r in rows if RETARGETING.search(r["campaign_name"])]
    days = sorted({r["date_start"] for r in retargeting})
    later = set(days[len(days) // 2 :])
    kept = [r for r in retargeting if r["date_start"] in later]
    stripped = []
    for r in rows:
        if r in kept:
            continue
        r = copy.deepcopy(r)
        r["actions"] = [a for a in r.get("actions", []) if a["action_type"] not in PURCHASES]
        r.pop("action_values", None)
        stripped.append(r)
    return stripped, kept


def _request(world: sim.SimResult, rows: list[dict[str, Any]], batch_id: str) -> Any:
    import json

    a = next(x for x in world.accounts if x["source"] == "meta")
    request = ingestion_pb.IngestRequest(
        org_id=REGION, source=common_pb.DATA_SOURCE_META, batch_id=batch_id,
        json_rows=[json.dumps(r) for r in rows],
        account=ingestion_pb.AccountInfo(
            account_id=a["account_id"], timezone=a["timezone"], currency_code=a["currency"],
            country_code="US", geo_keys=a["geo_keys"],
        ),
    )  # fmt: skip
    request.pulled_at.FromDatetime(PULLED)
    return request


def _others(world: sim.SimResult) -> Iterator[md_pb.CausalMarketingData]:
    """The world's records but Meta's, in the geos ingestion names ("US-CA" for "CA")."""
    for r in world_records(world, REGION):
        if r.data_source != common_pb.DATA_SOURCE_META:
            r.geo = f"US-{r.geo}"
            yield r


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult) -> Iterator[Any]:
    others = list(_others(world))
    with world_mesh(tmp_path_factory.mktemp("mesh"), {REPORTED: world},
                    extra={REGION: others}) as services:  # fmt: skip
        ingestion = ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )
        stripped, kept = _split(_meta_rows(world))
        acks = list(ingestion.Ingest(iter([_request(world, stripped, "region"),
                                           _request(world, kept, "purchases")]), timeout=300))  # fmt: skip
        assert [(a.accepted_count, a.rejected_count) for a in acks] == [
            (len(stripped), 0), (len(kept), 0)
        ]  # fmt: skip
        yield services


def _analyze(mesh: Any, org: str) -> pb.AttributionResult:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = pb.AnalyzeAttributionRequest(org_id=org)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


@pytest.fixture(scope="module")
def results(mesh: Any) -> dict[str, pb.AttributionResult]:
    return {org: _analyze(mesh, org) for org in (REPORTED, REGION)}


def _by_channel(r: pb.AttributionResult) -> dict[str, pb.ChannelAttribution]:
    return {c.channel: c for c in r.channels}


def test_memory_stores_the_flag_and_sums_the_unreported_rows(
    mesh: Any, world: sim.SimResult
) -> None:
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(mesh["memory"].address))
    scan = memory_pb.ScanRequest(org_id=REGION)
    scan.sources.append(common_pb.DATA_SOURCE_META)
    records = [r for b in memory.Scan(scan, timeout=60) for r in b.records]
    stripped, kept = _split(_meta_rows(world))
    assert len(records) == len(stripped) + len(kept)
    assert sum(r.conversions_unreported for r in records) == len(stripped)
    assert all(r.conversions == 0 for r in records if r.conversions_unreported)
    agg = memory.AggregateRecords(memory_pb.AggregateRecordsRequest(org_id=REGION), timeout=60)
    days = table_to_frame(agg.campaign_days)
    meta = days.loc[days["source"] == "meta"]
    assert int(meta["unreported_records"].sum()) == len(stripped)
    assert meta["unreported_spend"].sum() == pytest.approx(
        sum(float(r["spend"]) for r in stripped), rel=1e-9
    )
    assert (
        not days.loc[days["source"] != "meta", ["unreported_records", "unreported_spend"]]
        .any()
        .any()
    )


def test_unreported_channels_read_unknown_and_partial_not_zero(
    results: dict[str, pb.AttributionResult], world: sim.SimResult
) -> None:
    region = _by_channel(results[REGION])
    stripped, kept = _split(_meta_rows(world))
    prospecting = region["meta_prospecting"]
    assert prospecting.platform_unreported_share == pytest.approx(1.0)
    assert prospecting.platform_reported_outcome == 0.0
    assert prospecting.platform_reported_roas == 0.0  # unknown: the share says so
    # retargeting: a ROAS over the spend whose purchases were reported, not over all of it
    retargeting = region["meta_retargeting"]
    gone = sum(float(r["spend"]) for r in stripped if RETARGETING.search(r["campaign_name"]))
    reported = sum(float(r["spend"]) for r in kept)
    claimed = sum(float(v["value"]) for r in kept for v in r.get("action_values", [])
                  if v["action_type"] == "offsite_conversion.fb_pixel_purchase")  # fmt: skip
    assert 0.3 < retargeting.platform_unreported_share < 0.7
    assert retargeting.platform_unreported_share == pytest.approx(
        gone / (gone + reported), rel=1e-6
    )
    assert retargeting.platform_reported_outcome == pytest.approx(claimed, rel=1e-6)
    assert retargeting.platform_reported_roas == pytest.approx(claimed / reported, rel=1e-6)
    for k in results[REGION].campaigns:
        if k.channel == "meta_prospecting":
            assert k.platform_unreported_share == pytest.approx(1.0)
            assert k.platform_reported_outcome == 0.0


def test_reported_channels_are_unchanged(results: dict[str, pb.AttributionResult]) -> None:
    region, reported = _by_channel(results[REGION]), _by_channel(results[REPORTED])
    others = [c for c in reported if not c.startswith("meta")]
    assert others
    for name in others:
        a, b = region[name], reported[name]
        assert a.platform_unreported_share == 0.0 and b.platform_unreported_share == 0.0
        assert a.platform_reported_outcome == pytest.approx(b.platform_reported_outcome, rel=1e-9)
        assert a.platform_reported_roas == pytest.approx(b.platform_reported_roas, rel=1e-9)
    assert all(c.platform_unreported_share == 0.0 for c in reported.values())
    assert all(k.platform_unreported_share == 0.0 for k in results[REPORTED].campaigns)


def test_liftos_analyze_prints_not_reported_and_partial(mesh: Any, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    assert main(["analyze", "--org", REGION]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = {line.split()[0]: line for line in lines if line.split()}
    assert "not reported" in row["meta_prospecting"]
    assert " partial " in row["meta_retargeting"]
    assert "not reported" not in row["google_search"] and "partial" not in row["google_search"]
    notes = [line for line in lines if line.startswith("platform: ")]
    assert any("meta_prospecting" in n and "unknown, not 0" in n for n in notes)
    assert any("meta_retargeting" in n and "reported" in n for n in notes)
