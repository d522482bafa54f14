"""Knowledge graph neighbourhoods and conceptual-space counts over a real server."""

from __future__ import annotations

from collections import Counter

import grpc
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.synthetic_records import synthetic_records

from .conftest import ORG, ORG_RECORDS, reason_and_fields, scan_all, write


def test_campaign_neighbourhood(stub, org_records) -> None:
    response = stub.QueryGraph(memory_pb.QueryGraphRequest(org_id=ORG, node_id="campaign:c0"))
    ids = [n.id for n in response.nodes]
    assert ids[0] == "campaign:c0"
    nodes = {n.id: n for n in response.nodes}
    c0 = [r for r in org_records if r.campaign_id == "c0"]
    assert nodes["campaign:c0"].record_count == len(c0)
    assert nodes["campaign:c0"].label == "Black Friday Retargeting"
    assert nodes["campaign:c0"].type == memory_pb.GRAPH_NODE_TYPE_CAMPAIGN
    expected = {f"geo:{r.geo}" for r in c0} | {"org:acme", "channel:meta_retargeting"}
    expected |= {"experiment:exp-bf", "confounder:black_friday_proximity", "period:2024-11"}
    assert expected <= set(ids)
    edges = {(e.source, e.target, e.type): e.weight for e in response.edges}
    assert edges[("org:acme", "campaign:c0", memory_pb.GRAPH_EDGE_TYPE_OWNS)] == len(c0)
    in_exp = sum(1 for r in c0 if r.experiment_id == "exp-bf")
    assert edges[("campaign:c0", "experiment:exp-bf", memory_pb.GRAPH_EDGE_TYPE_PART_OF)] == in_exp
    regions = Counter(
        a.region
        for r in scan_all(stub, org_id=ORG, campaign_ids=["c0"])
        for a in r.conceptual_assignments
        if a.space == "efficiency"
    )
    for region, count in regions.items():
        assert (
            edges[
                ("campaign:c0", f"region:efficiency/{region}", memory_pb.GRAPH_EDGE_TYPE_IN_REGION)
            ]
            == count
        )


def test_depth_edge_types_and_truncation(stub, org_records) -> None:
    two = stub.QueryGraph(
        memory_pb.QueryGraphRequest(
            org_id=ORG,
            node_id="experiment:exp-bf",
            depth=2,
            edge_types=[memory_pb.GRAPH_EDGE_TYPE_HAS_GROUP, memory_pb.GRAPH_EDGE_TYPE_ASSIGNS],
        )
    )
    ids = {n.id for n in two.nodes}
    assert ids == {
        "experiment:exp-bf",
        "group:exp-bf/treatment",
        "group:exp-bf/control",
        "geo:US-CA",
        "geo:US-NY",
        "geo:US-TX",
        "geo:US-FL",
    }
    assert {e.type for e in two.edges} <= {
        memory_pb.GRAPH_EDGE_TYPE_HAS_GROUP,
        memory_pb.GRAPH_EDGE_TYPE_ASSIGNS,
    }
    # even geos are treated in the synthetic design
    treated = {e.target for e in two.edges if e.source == "group:exp-bf/treatment"}
    assert treated == {"geo:US-CA", "geo:US-TX"}
    cut = stub.QueryGraph(
        memory_pb.QueryGraphRequest(org_id=ORG, node_id="org:acme", depth=3, max_nodes=5)
    )
    assert cut.truncated and len(cut.nodes) == 5 and cut.nodes[0].id == "org:acme"
    edge_nodes = {e.source for e in cut.edges} | {e.target for e in cut.edges}
    assert edge_nodes <= {n.id for n in cut.nodes}


def test_spaces_list_counts_every_record_once_per_space(stub, org_records) -> None:
    response = stub.ListConceptualSpaces(memory_pb.ListConceptualSpacesRequest(org_id=ORG))
    names = [s.name for s in response.spaces]
    assert names == ["efficiency", "scale", "timing", "treatment"]
    for space in response.spaces:
        assert sum(r.record_count for r in space.regions) == ORG_RECORDS, space.name
        assert all(len(r.prototype) == len(space.dimensions) for r in space.regions)
    treatment = {r.name: r.record_count for r in response.spaces[3].regions}
    treated = sum(1 for r in org_records if r.treatment_group == md_pb.TREATMENT_GROUP_TREATMENT)
    controls = sum(1 for r in org_records if r.treatment_group == md_pb.TREATMENT_GROUP_CONTROL)
    assert treatment["treatment_full"] == treated and treatment["control"] == controls
    # go-dark treated geos spend nothing: they are the no_spend efficiency region
    efficiency = {r.name: r.record_count for r in response.spaces[0].regions}
    assert efficiency["no_spend"] == sum(1 for r in org_records if r.spend == 0)


def test_spaces_are_paged_and_the_default_page_holds_them_all(stub, org_records) -> None:
    whole = stub.ListConceptualSpaces(memory_pb.ListConceptualSpacesRequest(org_id=ORG))
    assert len(whole.spaces) == 4 and whole.next_page_token == ""
    pages, token = [], ""
    while True:
        page = stub.ListConceptualSpaces(
            memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_size=3, page_token=token)
        )
        pages.append([s.name for s in page.spaces])
        token = page.next_page_token
        if not token:
            break
    assert pages == [["efficiency", "scale", "timing"], ["treatment"]]
    second = stub.ListConceptualSpaces(
        memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_size=1)
    ).next_page_token
    following = stub.ListConceptualSpaces(
        memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_size=1, page_token=second)
    )
    assert [s.name for s in following.spaces] == ["scale"]
    assert list(following.spaces[0].regions) == list(whole.spaces[1].regions)  # counts too
    big = stub.ListConceptualSpaces(
        memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_size=10_000)
    )
    assert len(big.spaces) == 4 and big.next_page_token == ""  # lowered to the maximum


def test_a_spaces_token_is_refused_for_another_org_and_a_bad_page_size(stub, org_records) -> None:
    other = "spaces-other"
    write(stub, other, synthetic_records(other, 8))
    token = stub.ListConceptualSpaces(
        memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_size=1)
    ).next_page_token
    assert token
    for request in (
        memory_pb.ListConceptualSpacesRequest(org_id=other, page_token=token),
        memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_token=token[:-2]),
        memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_token="x" * 600),
    ):
        with pytest.raises(grpc.RpcError) as err:
            stub.ListConceptualSpaces(request)
        code, _, fields = reason_and_fields(err.value)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and fields == ["page_token"]
    with pytest.raises(grpc.RpcError) as err:
        stub.ListConceptualSpaces(memory_pb.ListConceptualSpacesRequest(org_id=ORG, page_size=-1))
    code, _, fields = reason_and_fields(err.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and fields == ["page_size"]


def test_restatement_moves_graph_counts(stub) -> None:
    org = "graphs"
    (r,) = synthetic_records(org, 1)
    write(stub, org, [r])
    moved = md_pb.CausalMarketingData()
    moved.CopyFrom(r)
    moved.version += 1
    moved.channel = "meta_prospecting"
    write(stub, org, [moved])
    response = stub.QueryGraph(
        memory_pb.QueryGraphRequest(org_id=org, node_id=f"campaign:{r.campaign_id}")
    )
    ids = {n.id for n in response.nodes}
    assert "channel:meta_prospecting" in ids and f"channel:{r.channel}" not in ids
    assert all(n.record_count == 1 for n in response.nodes)


def test_cli_search_prints_the_top_hits(server, org_records) -> None:
    import argparse
    import io

    from mesh.cli import search as cli

    parser = argparse.ArgumentParser(prog="liftos")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "search",
            "--org",
            ORG,
            "--addr",
            server,
            "--k",
            "3",
            "--group",
            "treatment",
            "black friday retargeting",
        ]
    )
    out = io.StringIO()
    assert args.func(args, out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and lines[-1].startswith("3 hits (exact index")
    assert all("Black Friday Retargeting" in line for line in lines[1:4])


def test_cli_search_takes_a_local_mesh_base_port(server, org_records) -> None:
    """`--base-port B` reaches memory at B+1, as every other verb's flag does."""
    import argparse
    import io

    from mesh.cli import search as cli

    parser = argparse.ArgumentParser(prog="liftos")
    cli.register(parser.add_subparsers())
    host, port = server.rsplit(":", 1)
    assert host in ("127.0.0.1", "localhost")
    argv = ["search", "--org", ORG, "--addr", "127.0.0.1:1"]
    args = parser.parse_args([*argv, "--base-port", str(int(port) - 1), "black friday retargeting"])
    out = io.StringIO()
    assert args.func(args, out) == 0
    assert out.getvalue().splitlines()[-1].startswith("10 hits")
