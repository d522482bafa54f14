"""Knowledge-graph neighbourhoods and the record counts of the conceptual spaces' regions,
read from the store's graph tables; answers are kept in a cache bounded by bytes
(``graph_cache_bytes``) and keyed by the org's data version, so a write never serves a
stale one and no org's whole graph is ever held."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memory_svc.byte_lru import ByteLRU
from memory_svc.errors import NodeNotFound, OrgNotFound
from memory_svc.graph import GraphEdgeRow, GraphNodeRow, Neighbourhood, neighbourhood
from memory_svc.spaces import SPACES, ConceptualSpaceSpec
from memory_svc.store import RecordStore
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.page_tokens import PageTokens
from mesh.runtime.page_tokens import page_size as _page_size

__all__ = ["OrgGraphs", "SpaceSummary"]

# ListConceptualSpaces pages: the default holds every space there is.
DEFAULT_SPACES_PAGE_SIZE = 50
MAX_SPACES_PAGE_SIZE = 500
# Neighbourhood answers kept, in bytes (about: see _size); 0 keeps none.
DEFAULT_GRAPH_CACHE_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class SpaceSummary:
    """A conceptual space with its record counts per region."""

    name: str
    counts: dict[str, int]


def _size(n: Neighbourhood) -> int:
    """About what an answer holds: its strings plus ~120 bytes of objects per node or edge."""
    nodes = sum(
        120
        + len(r.node_id)
        + len(r.label)
        + sum(len(k) + len(v) + 100 for k, v in r.properties.items())
        for r in n.nodes
    )
    return 64 + nodes + sum(120 + len(e.source) + len(e.target) for e in n.edges)


class OrgGraphs:
    """The graph reads of the engine."""

    def __init__(
        self, store: RecordStore, tokens: PageTokens, cache_bytes: int = DEFAULT_GRAPH_CACHE_BYTES
    ) -> None:
        self.store = store
        self._tokens = tokens
        self.cache: ByteLRU[Neighbourhood] = ByteLRU(cache_bytes)

    def _version(self, org_id: str) -> int:
        state = self.store.org_state(org_id)
        if state is None or state.record_count == 0:
            raise OrgNotFound(org_id)
        return state.max_seq

    def query_graph(
        self, org_id: str, node_id: str, depth: int, edge_types: frozenset[str], max_nodes: int
    ) -> Neighbourhood:
        key = (org_id, self._version(org_id), node_id, depth, edge_types, max_nodes)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        start = self.store.graph_nodes(org_id, [node_id]).get(node_id)
        if start is None:
            raise NodeNotFound(
                f"no node {node_id!r} in org {org_id!r}'s knowledge graph",
                resource_type="graph_node",
                resource_name=node_id,
            )

        def nodes_of(ids: Sequence[str]) -> dict[str, GraphNodeRow]:
            return self.store.graph_nodes(org_id, ids)

        def edges_of(ids: Sequence[str]) -> list[GraphEdgeRow]:
            return self.store.graph_edges_of(org_id, ids)

        answer = neighbourhood(
            nodes_of, edges_of, start, depth=depth, edge_types=edge_types, max_nodes=max_nodes
        )
        self.cache.put(key, answer, _size(answer))
        return answer

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
        self._version(org_id)  # OrgNotFound
        names = [f"region:{s.name}/{r.name}" for s in spaces for r in s.regions]
        rows = self.store.graph_nodes(org_id, names)
        out = []
        for space in spaces:
            counts = {}
            for region in space.regions:
                row = rows.get(f"region:{space.name}/{region.name}")
                counts[region.name] = row.record_count if row else 0
            out.append(SpaceSummary(space.name, counts))
        return out
