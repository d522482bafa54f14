"""The stored payload: a record's wire bytes with the memory's enrichment (conceptual space and
assignments, knowledge-graph nodes, restatement flags), built for a whole write group."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
from liftos.v1 import marketing_data_pb2 as md_pb

from memory_svc.writer import Enrichment, Serialise

__all__ = ["serialiser"]


def serialiser(records: Sequence[md_pb.CausalMarketingData]) -> Serialise:
    """Serialises the records with the memory's enrichment (conceptual space and
    assignments, knowledge-graph nodes, restatement flags; no embedding: vectors are stored
    beside the payload and re-attached by Scan on request).

    A record that arrives without any of those fields (what ingestion sends) is stored as
    its own bytes followed by the enrichment's bytes: protobuf parses concatenated messages
    as one (scalars: the last wins; repeated fields append; sub-messages merge), so this is
    the record with the fields set, without the cost of rebuilding and re-encoding it field
    by field. Any other record is enriched field by field and serialised."""

    def serialise(e: Enrichment) -> list[bytes]:
        encoder = _Enricher(e)
        out = []
        for row, pos in enumerate(e.positions):
            r = records[pos]
            if r.knowledge_graph_nodes or r.conceptual_assignments or r.embedding_vector:
                out.append(_enriched_message(r, e, row))
            else:
                out.append(r.SerializeToString() + encoder.bytes(row))
        return out

    return serialise


def _enriched_message(r: md_pb.CausalMarketingData, e: Enrichment, row: int) -> bytes:
    r.ClearField("embedding_vector")
    r.conceptual_space = e.primary_region[row]
    del r.conceptual_assignments[:]
    for a in e.assignments:
        r.conceptual_assignments.add(
            space=a.space, region=str(a.region[row]), distance=float(a.distance[row])
        )
    del r.knowledge_graph_nodes[:]
    r.knowledge_graph_nodes.extend(e.graph_nodes[row])
    if e.replaced_versions[row]:
        r.causal_metadata.is_restatement = True
        r.causal_metadata.replaced_version = e.replaced_versions[row]
    return r.SerializeToString()


_Record = md_pb.CausalMarketingData


@functools.lru_cache(maxsize=65_536)
def _space_field(region: str) -> bytes:
    return _Record(conceptual_space=region).SerializeToString()


@functools.lru_cache(maxsize=65_536)
def _node_field(node: str) -> bytes:
    return _Record(knowledge_graph_nodes=[node]).SerializeToString()


@functools.lru_cache(maxsize=65_536)
def _assignment_head(space: str, region: str) -> bytes:
    """One conceptual_assignments item up to its distance's 8 value bytes. The distance
    (field 3, fixed64) is the item's last field, so its bytes are the encoding's last 8
    and its length never changes; 1.0 keeps proto3 from leaving it out."""
    item = md_pb.ConceptualAssignment(space=space, region=region, distance=1.0)
    return _Record(conceptual_assignments=[item]).SerializeToString()[:-8]


class _Cached(dict[str, bytes]):
    """A field's bytes per value, encoded once per batch (the lru_cached encoders behind
    cost a call each; a dict lookup costs less, and a batch names few distinct values)."""

    def __init__(self, encode: Callable[[str], bytes]) -> None:
        super().__init__()
        self._encode = encode

    def __missing__(self, value: str) -> bytes:
        got = self[value] = self._encode(value)
        return got


class _Enricher:
    """The enrichment of each row of a batch as CausalMarketingData wire bytes."""

    def __init__(self, e: Enrichment) -> None:
        self.e = e
        space = _Cached(_space_field)
        node = _Cached(_node_field)
        # the row's fields in their order: conceptual space, each space's assignment (its
        # head, then the distance's 8 bytes), the graph nodes, the restatement flags
        columns: list[list[bytes]] = [[space[r] for r in e.primary_region]]
        for a in e.assignments:
            head = _Cached(functools.partial(_assignment_head, a.space))
            distances = np.ascontiguousarray(a.distance, dtype="<f8").tobytes()
            columns.append(
                [
                    head[str(g)] + distances[at : at + 8]
                    for g, at in zip(a.region.tolist(), range(0, len(distances), 8), strict=True)
                ]
            )
        columns.append([b"".join([node[x] for x in nodes]) for nodes in e.graph_nodes])
        self.rows = [b"".join(parts) for parts in zip(*columns, strict=True)]
        for row, version in enumerate(e.replaced_versions):
            if version:
                meta = md_pb.CausalMetadata(is_restatement=True, replaced_version=version)
                self.rows[row] += _Record(causal_metadata=meta).SerializeToString()

    def bytes(self, row: int) -> bytes:
        return self.rows[row]
