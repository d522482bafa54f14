"""Each org's knowledge graph as networkx, built from the store and kept until the org's next
write; its neighbourhoods and the record counts of the conceptual spaces' regions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from memory_svc.errors import NodeNotFound, OrgNotFound
from memory_svc.graph import Neighbourhood, build_graph, neighbourhood
from memory_svc.spaces import SPACES, ConceptualSpaceSpec
from memory_svc.store import RecordStore
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.page_tokens import PageTokens
from mesh.runtime.page_tokens import page_size as _page_size

__all__ = ["OrgGraphs", "SpaceSummary"]

# ListConceptualSpaces pages: the default holds every space there is.
DEFAULT_SPACES_PAGE_SIZE = 50
MAX_SPACES_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class SpaceSummary:
    """A conceptual space with its record counts per region."""

    name: str
    counts: dict[str, int]


class OrgGraphs:
    """The graph reads of the engine."""

    def __init__(self, store: RecordStore, tokens: PageTokens) -> None:
        self.store = store
        self._tokens = tokens
        self._graphs: dict[str, tuple[int, nx.MultiDiGraph]] = {}

    def _graph(self, org_id: str) -> nx.MultiDiGraph:
        state = self.store.org_state(org_id)
        if state is None or state.record_count == 0:
            raise OrgNotFound(org_id)
        cached = self._graphs.get(org_id)
        if cached and cached[0] == state.max_seq:
            return cached[1]
        graph = build_graph(*self.store.graph(org_id))
        self._graphs[org_id] = (state.max_seq, graph)
        return graph

    def query_graph(
        self, org_id: str, node_id: str, depth: int, edge_types: frozenset[str], max_nodes: int
    ) -> Neighbourhood:
        graph = self._graph(org_id)
        if node_id not in graph:
            raise NodeNotFound(
                f"no node {node_id!r} in org {org_id!r}'s knowledge graph",
                resource_type="graph_node",
                resource_name=node_id,
            )
        return neighbourhood(
            graph, node_id, depth=depth, edge_types=edge_types, max_nodes=max_nodes
        )

    def spaces(self, org_id: str) -> list[SpaceSummary]:
        return self._spaces(org_id, SPACES)

    def spaces_page(
        self, org_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[SpaceSummary], str]:
        """A page of the spaces in their fixed order, and the next page's token ("" after the
        last). A token opens only for the org it was issued to."""
        size = _page_size(page_size, default=DEFAULT_SPACES_PAGE_SIZE, maximum=MAX_SPACES_PAGE_SIZE)
        names = [space.name for space in SPACES]
        start = 0
        if page_token:
            key = self._tokens.open_key(org_id, page_token)
            if len(key) != 1 or key[0] not in names:
                raise InvalidInput(
                    "page_token is not a token this server issued", field="page_token"
                )
            start = names.index(str(key[0])) + 1
        page = self._spaces(org_id, SPACES[start : start + size])
        more = start + size < len(SPACES)
        return page, self._tokens.seal_key(org_id, (page[-1].name,)) if more and page else ""

    def _spaces(self, org_id: str, spaces: Sequence[ConceptualSpaceSpec]) -> list[SpaceSummary]:
        graph = self._graph(org_id)
        out = []
        for space in spaces:
            counts = {}
            for region in space.regions:
                node = f"region:{space.name}/{region.name}"
                counts[region.name] = graph.nodes[node]["record_count"] if node in graph else 0
            out.append(SpaceSummary(space.name, counts))
        return out
