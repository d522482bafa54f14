"""BuildGraph: causal graphs ↔ proto, with their size bounds, and the graph analysis answer."""

from __future__ import annotations

from collections.abc import Sequence

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc import limits
from causal_svc.convert.fields import text
from causal_svc.default_graph import default_marketing_graph
from causal_svc.errors import InvalidGraph, InvalidSpec
from causal_svc.graph import CausalGraph, GraphAnalysis, Node, NodeRole
from mesh.runtime.protoconv import enum_from_proto, require_org

# -- graphs -------------------------------------------------------------------------------------

_ROLE_FROM_PROTO = {
    md_pb.NODE_ROLE_TREATMENT: NodeRole.TREATMENT,
    md_pb.NODE_ROLE_OUTCOME: NodeRole.OUTCOME,
    md_pb.NODE_ROLE_CONFOUNDER: NodeRole.CONFOUNDER,
    md_pb.NODE_ROLE_MEDIATOR: NodeRole.MEDIATOR,
    md_pb.NODE_ROLE_INSTRUMENT: NodeRole.INSTRUMENT,
    md_pb.NODE_ROLE_COVARIATE: NodeRole.COVARIATE,
    md_pb.NODE_ROLE_EXPERIMENT: NodeRole.EXPERIMENT,
    md_pb.NODE_ROLE_UNSPECIFIED: NodeRole.COVARIATE,
}


def _node_from_proto(node: md_pb.CausalNode, field: str) -> Node:
    if not node.id:
        raise InvalidGraph("node id is required", field=f"{field}.id")
    text(node.id, f"{field}.id")
    text(node.column, f"{field}.column")
    text(node.label, f"{field}.label", limits.MAX_LABEL_CHARS)
    enum_from_proto(node.role, md_pb.NodeRole.DESCRIPTOR, f"{field}.role")
    if node.role == md_pb.NODE_ROLE_COLLIDER:
        role = NodeRole.COVARIATE  # a collider is a property of a question, derived, not declared
    else:
        role = _ROLE_FROM_PROTO.get(node.role, NodeRole.COVARIATE)
    return Node(node.id, role, node.observed, node.column or None, node.label)


def _edges(edges: Sequence[md_pb.CausalEdge], field: str) -> list[tuple[str, str]]:
    out = []
    for i, e in enumerate(edges):
        if not e.source or not e.target:
            raise InvalidGraph("edge needs source and target", field=f"{field}[{i}]")
        text(e.source, f"{field}[{i}].source")
        text(e.target, f"{field}[{i}].target")
        text(e.rationale, f"{field}[{i}].rationale", limits.MAX_LABEL_CHARS)
        out.append((e.source, e.target))
    return out


def _check_graph_size(nodes: int, edges: int, field: str, edges_field: str) -> None:
    if nodes > limits.MAX_GRAPH_NODES:
        raise InvalidGraph(
            f"{field} has {nodes:,} nodes; at most {limits.MAX_GRAPH_NODES:,} are allowed",
            field=field,
        )
    if edges > limits.MAX_GRAPH_EDGES:
        raise InvalidGraph(
            f"{edges_field} has {edges:,} edges; at most {limits.MAX_GRAPH_EDGES:,} are allowed",
            field=edges_field,
        )


def graph_from_proto(graph: md_pb.CausalGraph, field: str = "graph") -> CausalGraph | None:
    """A caller-supplied graph, or None when the message is empty."""
    if not graph.nodes and not graph.edges:
        return None
    _check_graph_size(len(graph.nodes), len(graph.edges), f"{field}.nodes", f"{field}.edges")
    nodes = [_node_from_proto(n, f"{field}.nodes[{i}]") for i, n in enumerate(graph.nodes)]
    edges = _edges(graph.edges, f"{field}.edges")
    known = {n.name for n in nodes}
    for a, b in edges:
        for end in (a, b):
            if end not in known:
                nodes.append(Node(end))
                known.add(end)
    _check_graph_size(len(nodes), len(edges), f"{field}.nodes", f"{field}.edges")
    return CausalGraph(tuple(nodes), tuple(edges))


def build_graph_from_request(request: causal_pb.BuildGraphRequest) -> tuple[CausalGraph, str, str]:
    """The default DAG (unless excluded) merged with the caller's nodes and edge edits, and the
    treatment and outcome nodes the question names."""
    require_org(request.org_id)
    if not request.treatment:
        raise InvalidSpec("treatment node is required", field="treatment")
    if not request.outcome:
        raise InvalidSpec("outcome node is required", field="outcome")
    text(request.treatment, "treatment")
    text(request.outcome, "outcome")
    _check_graph_size(len(request.nodes), len(request.add_edges), "nodes", "add_edges")
    _check_graph_size(0, len(request.remove_edges), "nodes", "remove_edges")
    base = CausalGraph((), ()) if request.exclude_default_graph else default_marketing_graph()
    existing = set(base.names())
    new_nodes: list[Node] = []
    observed: list[str] = []
    unobserved: list[str] = []
    for i, node in enumerate(request.nodes):
        parsed = _node_from_proto(node, f"nodes[{i}]")
        if parsed.name in existing and node.role == md_pb.NODE_ROLE_UNSPECIFIED and not node.column:
            (observed if node.observed else unobserved).append(parsed.name)
        else:
            if parsed.name in existing and node.role == md_pb.NODE_ROLE_UNSPECIFIED:
                parsed = Node(
                    parsed.name,
                    base.node(parsed.name).role,
                    parsed.observed,
                    parsed.column,
                    parsed.description,
                )
            new_nodes.append(parsed)
    graph = base.with_edits(
        add_nodes=new_nodes,
        remove_edges=_edges(request.remove_edges, "remove_edges"),
        add_edges=_edges(request.add_edges, "add_edges"),
        observed=observed,
        unobserved=unobserved,
    )
    _check_graph_size(len(graph.nodes), len(graph.edges), "nodes", "add_edges")
    treatment = graph.resolve(request.treatment, "treatment")
    outcome = graph.resolve(request.outcome, "outcome")
    return graph, treatment, outcome


def graph_to_proto(graph: CausalGraph, analysis: GraphAnalysis | None = None) -> md_pb.CausalGraph:
    """The graph with each node's role for the question asked (when an analysis is given)."""
    roles: dict[str, int] = {}
    if analysis is not None:
        roles.update({n: md_pb.NODE_ROLE_CONFOUNDER for n in analysis.confounders})
        roles.update({n: md_pb.NODE_ROLE_MEDIATOR for n in analysis.mediators})
        roles.update({i.name: md_pb.NODE_ROLE_INSTRUMENT for i in analysis.instruments})
        roles[analysis.treatment] = md_pb.NODE_ROLE_TREATMENT
        roles[analysis.outcome] = md_pb.NODE_ROLE_OUTCOME
    out = md_pb.CausalGraph()
    for n in graph.nodes:
        default = (
            md_pb.NODE_ROLE_EXPERIMENT
            if n.role is NodeRole.EXPERIMENT
            else md_pb.NODE_ROLE_COVARIATE
        )
        out.nodes.add(
            id=n.name, label=n.description or n.name, role=roles.get(n.name, default),
            observed=n.observed, column=n.data_column,
        )  # fmt: skip
    for a, b in graph.edges:
        out.edges.add(source=a, target=b)
    return out


def build_graph_response(
    graph: CausalGraph, analysis: GraphAnalysis
) -> causal_pb.BuildGraphResponse:
    response = causal_pb.BuildGraphResponse(
        graph=graph_to_proto(graph, analysis),
        confounders=list(analysis.confounders),
        mediators=list(analysis.mediators),
        instruments=[i.name for i in analysis.instruments],
        identifiable=analysis.identifiable,
        identification_reason=analysis.reason,
        frontdoor_available=analysis.frontdoor_set is not None,
        frontdoor_set=list(analysis.frontdoor_set or ()),
    )
    seen: set[tuple[str, ...]] = set()
    for variables, minimal in (
        (analysis.minimal_adjustment_set, True),
        (analysis.optimal_adjustment_set, False),
    ):
        if variables is not None and tuple(variables) not in seen:
            seen.add(tuple(variables))
            response.adjustment_sets.add(variables=list(variables), minimal=minimal)
    return response
