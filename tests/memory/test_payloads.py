"""The stored payload: the record as sent plus memory's enrichment, encoded column-wise, equal
to enriching the message field by field."""

from __future__ import annotations

import numpy as np
from liftos.v1 import marketing_data_pb2 as md_pb

from memory_svc.convert import _enriched_message, serialiser
from memory_svc.engine import Enrichment
from memory_svc.spaces import SpaceAssignment
from mesh.synthetic_records import synthetic_records


def _enrichment(n: int, positions: list[int]) -> Enrichment:
    rng = np.random.default_rng(4)
    k = len(positions)
    regions = np.array(["profitable", "wasteful", "été ☀"], dtype=object)
    return Enrichment(
        positions=positions,
        vectors=np.zeros((k, 4), np.float32),
        primary_region=[f"efficiency/{regions[i % 3]}" for i in range(k)],
        assignments=[
            SpaceAssignment("efficiency", regions[rng.integers(0, 3, k)], rng.random(k)),
            # a zero distance is proto3's default: left out, still equal
            SpaceAssignment(
                "scale", regions[rng.integers(0, 3, k)], np.where(rng.random(k) < 0.3, 0.0, 1.5)
            ),
        ],
        graph_nodes=[["org:o1", f"campaign:c{i}", ""][: i % 4] for i in range(k)],
        replaced_versions=[int(v) for v in rng.choice([0, 0, 3, 2**40], k)],
    )


def test_payload_is_the_record_enriched_field_by_field() -> None:
    records = synthetic_records("o1", 50, seed=9)
    positions = [i for i in range(50) if i % 7]  # some rows were not stored (unchanged)
    e = _enrichment(50, positions)
    payloads = serialiser(
        [md_pb.CausalMarketingData.FromString(r.SerializeToString()) for r in records]
    )(e)
    assert len(payloads) == len(positions)
    for row, pos in enumerate(positions):
        expected = md_pb.CausalMarketingData.FromString(_enriched_message(records[pos], e, row))
        stored = md_pb.CausalMarketingData.FromString(payloads[row])
        assert stored == expected, row
        assert stored.causal_metadata.is_restatement == bool(e.replaced_versions[row])
        assert list(stored.knowledge_graph_nodes) == e.graph_nodes[row]


def test_records_that_carry_memory_fields_are_rewritten_not_appended() -> None:
    records = synthetic_records("o1", 6, seed=1)
    records[2].knowledge_graph_nodes.extend(["stale:node"])
    records[4].conceptual_assignments.add(space="efficiency", region="old", distance=9.0)
    records[5].embedding_vector.extend([0.5, 0.5])
    originals = [md_pb.CausalMarketingData.FromString(r.SerializeToString()) for r in records]
    e = _enrichment(6, list(range(6)))
    payloads = serialiser(records)(e)
    for row in range(6):
        stored = md_pb.CausalMarketingData.FromString(payloads[row])
        assert list(stored.knowledge_graph_nodes) == e.graph_nodes[row]
        assert [a.region for a in stored.conceptual_assignments] == [
            str(a.region[row]) for a in e.assignments
        ]
        assert not stored.embedding_vector
        assert stored.spend == originals[row].spend
