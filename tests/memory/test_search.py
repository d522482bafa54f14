"""Search: relevance, exactness under filters (property test), k returned, cross-org isolation,
and the IVF paths (over-fetch, selector fallback, nprobe escalation) on a small-threshold server."""

from __future__ import annotations

import datetime as dt
import logging

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import ORG, scan_all, small_ivf_build, write

_DAY0 = dt.datetime(2024, 10, 20, tzinfo=dt.UTC)


def _matches(r: md_pb.CausalMarketingData, f: memory_pb.SearchFilter) -> bool:
    us = r.timestamp.ToMicroseconds()
    tr = f.time_range
    regions = {f"{a.space}/{a.region}" for a in r.conceptual_assignments}
    return (
        (not f.sources or r.data_source in f.sources)
        and (not f.campaign_ids or r.campaign_id in f.campaign_ids)
        and (not f.experiment_id or r.experiment_id == f.experiment_id)
        and (not f.treatment_groups or r.treatment_group in f.treatment_groups)
        and (not f.geos or r.geo in f.geos)
        and (not f.channels or r.channel in f.channels)
        and (not tr.HasField("start_time") or us >= tr.start_time.ToMicroseconds())
        and (not tr.HasField("end_time") or us < tr.end_time.ToMicroseconds())
        and (not f.conceptual_region or f.conceptual_region in regions)
        and (not f.HasField("min_quality_score") or r.data_quality_score >= f.min_quality_score)
    )


@st.composite
def filters(draw: st.DrawFn) -> memory_pb.SearchFilter:
    f = memory_pb.SearchFilter()
    f.sources.extend(draw(st.lists(st.sampled_from([1, 2, 3, 4]), max_size=2, unique=True)))
    f.campaign_ids.extend(
        draw(st.lists(st.sampled_from([f"c{i}" for i in range(10)]), max_size=3, unique=True))
    )
    f.treatment_groups.extend(draw(st.lists(st.sampled_from([1, 2, 3]), max_size=2, unique=True)))
    f.geos.extend(draw(st.lists(st.sampled_from(["US-CA", "US-NY", "US-TX"]), max_size=2)))
    if draw(st.booleans()):
        a, b = sorted(draw(st.lists(st.integers(0, 45), min_size=2, max_size=2, unique=True)))
        f.time_range.start_time.FromDatetime(_DAY0 + dt.timedelta(days=a))
        f.time_range.end_time.FromDatetime(_DAY0 + dt.timedelta(days=b))
    if draw(st.booleans()):
        f.conceptual_region = draw(
            st.sampled_from(
                [
                    "efficiency/high_roas",
                    "efficiency/profitable",
                    "scale/small",
                    "timing/autumn_weekend",
                ]
            )
        )
    if draw(st.booleans()):
        f.min_quality_score = draw(st.floats(0.5, 0.95))
    return f


def _stored(stub: memory_grpc.MemoryServiceStub, org: str) -> list[md_pb.CausalMarketingData]:
    return scan_all(stub, org_id=org, include_embeddings=True)


def _check(stub, org, stored, f, k, query) -> None:  # type: ignore[no-untyped-def]
    request = memory_pb.SearchRequest(org_id=org, filter=f, k=k, **query)
    try:
        response = stub.Search(request, timeout=30)
    except grpc.RpcError as err:  # a drawn campaign/geo the org lacks is rejected, by design
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        return
    by_id = {r.id: r for r in stored}
    matching = [r for r in stored if _matches(r, f)]
    got = [h.record_id for h in response.hits]
    assert len(got) == len(set(got))
    assert all(_matches(by_id[i], f) for i in got), "a non-matching record was returned"
    assert len(got) == min(k, len(matching)), "fewer than k hits although k records match"
    scores = [h.score for h in response.hits]
    assert scores == sorted(scores, reverse=True)


def test_text_search_finds_the_campaign_it_names(stub, org_records) -> None:
    response = stub.Search(
        memory_pb.SearchRequest(
            org_id=ORG, text="black friday retargeting", k=10, include_records=True
        )
    )
    assert len(response.hits) == 10
    assert response.index_kind == memory_pb.INDEX_KIND_EXACT
    assert all(h.record.campaign_name == "Black Friday Retargeting" for h in response.hits)
    # the causal text carries the holiday build-up: those rows rank first
    top = response.hits[0].record
    assert any(c.name == "black_friday_proximity" for c in top.confounders)
    email = stub.Search(
        memory_pb.SearchRequest(org_id=ORG, text="klaviyo email winback", k=5, include_records=True)
    )
    assert all(h.record.channel == "klaviyo_email" for h in email.hits)


def test_a_records_own_vector_finds_it_first(stub, org_records) -> None:
    (r,) = scan_all(stub, org_id=ORG, include_embeddings=True, campaign_ids=["c4"], batch_size=1)[
        :1
    ]
    response = stub.Search(
        memory_pb.SearchRequest(org_id=ORG, vector=memory_pb.Vector(values=r.embedding_vector), k=3)
    )
    assert response.hits[0].record_id == r.id
    assert response.hits[0].score == pytest.approx(1.0, abs=1e-5)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(f=filters(), k=st.integers(1, 60))
def test_filtered_search_is_exact_on_exact_index(stub, org_records, f, k) -> None:
    stored = _stored_cache(stub, ORG)
    _check(stub, ORG, stored, f, k, {"text": "retargeting sales weekend"})


_CACHE: dict[str, list[md_pb.CausalMarketingData]] = {}


def _stored_cache(stub, org: str) -> list[md_pb.CausalMarketingData]:  # type: ignore[no-untyped-def]
    if org not in _CACHE:
        _CACHE[org] = _stored(stub, org)
    return _CACHE[org]


def test_cross_org_search_never_returns_the_other_org(stub, org_records) -> None:
    other = synthetic_records("rival", 200, seed=99)  # same campaigns and texts, other org
    write(stub, "rival", other)
    rival_ids = {r.id for r in other}
    acme_ids = {r.id for r in org_records}
    assert not rival_ids & acme_ids
    for org, own in ((ORG, acme_ids), ("rival", rival_ids)):
        response = stub.Search(
            memory_pb.SearchRequest(org_id=org, text="black friday retargeting", k=1000)
        )
        assert {h.record_id for h in response.hits} <= own
    # the rival's own vector, searched in acme, finds only acme records
    (r,) = scan_all(stub, org_id="rival", include_embeddings=True, batch_size=1)[:1]
    response = stub.Search(
        memory_pb.SearchRequest(
            org_id=ORG, vector=memory_pb.Vector(values=r.embedding_vector), k=50
        )
    )
    assert {h.record_id for h in response.hits} <= acme_ids


@pytest.fixture(scope="module")
def ivf(tmp_path_factory):  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("ivf")
    with (
        running_services({"memory": small_ivf_build()}, data) as services,
        grpc.insecure_channel(services["memory"].address) as channel,
    ):
        stub = memory_grpc.MemoryServiceStub(channel)
        records = synthetic_records("big", 1600, seed=5, campaigns=10, geos=4, start=_DAY0.date())
        write(stub, "big", records, batch=200)
        yield stub, _stored(stub, "big")


def test_ivf_index_is_used_and_counts_match(ivf) -> None:
    stub, stored = ivf
    response = stub.Search(memory_pb.SearchRequest(org_id="big", text="brand search", k=10))
    assert response.index_kind == memory_pb.INDEX_KIND_IVF
    assert response.index_size == len(stored) == 1600
    assert len(response.hits) == 10


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    f=filters(),
    k=st.integers(1, 80),
    text=st.sampled_from(["black friday", "email", "tiktok spark"]),
)
def test_filtered_search_is_exact_on_ivf_index(ivf, f, k, text) -> None:
    stub, stored = ivf
    _check(stub, "big", stored, f, k, {"text": text})


def test_broad_filter_on_ivf_still_returns_k(ivf, caplog) -> None:
    """nprobe 1 over ~40 lists: the ANN neighbours of an email query are email rows, so a
    TikTok/Meta filter survives no over-fetch and must fall back to the restricted search."""
    caplog.set_level(logging.DEBUG, logger="memory_svc.search")
    stub, stored = ivf
    f = memory_pb.SearchFilter(sources=[common_pb.DATA_SOURCE_TIKTOK, common_pb.DATA_SOURCE_META])
    _check(stub, "big", stored, f, 50, {"text": "klaviyo email winback"})
    vec = np.asarray(stored[0].embedding_vector)
    _check(stub, "big", stored, f, 80, {"vector": memory_pb.Vector(values=vec)})
    paths = {m.split("path=")[1].split()[0] for m in caplog.messages if "path=" in m}
    assert "restricted" in paths
    narrow = memory_pb.SearchFilter(campaign_ids=["c3"], geos=["US-TX"])
    _check(stub, "big", stored, narrow, 10, {"text": "klaviyo email winback"})
    paths = {m.split("path=")[1].split()[0] for m in caplog.messages if "path=" in m}
    assert "brute-force" in paths
    _check(
        stub, "big", stored, memory_pb.SearchFilter(min_quality_score=0.56), 10, {"text": "email"}
    )
    paths = {m.split("path=")[1].split()[0] for m in caplog.messages if "path=" in m}
    assert "over-fetch" in paths
