"""Stored payloads: a record's own bytes + the enrichment's bytes parse to exactly the record
enriched field by field (the write path's shortcut is the same message, not a look-alike)."""

from __future__ import annotations

import numpy as np
from liftos.v1 import marketing_data_pb2 as md_pb

from memory_svc import convert
from memory_svc.convert import payload as payload_bytes
from memory_svc.spaces import SpaceAssignment
from memory_svc.writer import Enrichment
from mesh.runtime.synthetic_records import synthetic_records


def _enrichment(n: int) -> Enrichment:
    rng = np.random.default_rng(3)
    spaces = [("efficiency", ["high_roas", "low_roas"]), ("timing", ["peak", "off_peak", "über"])]
    assignments = [
        SpaceAssignment(
            space,
            np.array([regions[i % len(regions)] for i in range(n)], dtype=object),
            np.where(np.arange(n) % 3 == 0, 0.0, rng.random(n) * 4),  # 0.0 is a proto3 default
        )
        for space, regions in spaces
    ]
    return Enrichment(
        positions=list(range(n)),
        vectors=np.zeros((n, 4), np.float32),
        primary_region=[f"efficiency/{a}" for a in assignments[0].region],
        assignments=assignments,
        graph_nodes=[
            ["org:o", f"campaign:c{i % 4}", "geo:São Paulo"][: 1 + i % 3] for i in range(n)
        ],
        replaced_versions=[0 if i % 4 else 17 + i for i in range(n)],
    )


def test_concatenated_payload_is_the_field_by_field_enriched_record() -> None:
    records = synthetic_records("o", 12, seed=5)
    records[5].causal_metadata.replaced_version = 3  # merged into, not lost
    e = _enrichment(len(records))
    fast = convert.serialiser(records)(e)
    for row, r in enumerate(records):
        reference = md_pb.CausalMarketingData()
        reference.CopyFrom(r)
        want = md_pb.CausalMarketingData.FromString(
            payload_bytes._enriched_message(reference, e, row)  # the field-by-field path
        )
        got = md_pb.CausalMarketingData.FromString(fast[row])
        assert got == want, row
        assert list(got.knowledge_graph_nodes) == e.graph_nodes[row]
        assert [a.distance for a in got.conceptual_assignments] == [
            float(a.distance[row]) for a in e.assignments
        ]
        assert got.causal_metadata.is_restatement == bool(e.replaced_versions[row])


def test_records_carrying_memory_fields_are_rewritten_not_appended() -> None:
    records = synthetic_records("o", 3, seed=6)
    records[0].knowledge_graph_nodes.append("campaign:stale")
    records[1].conceptual_assignments.add(space="efficiency", region="old", distance=9.0)
    records[2].embedding_vector.extend([0.5, 0.5])
    e = _enrichment(3)
    for row, payload in enumerate(convert.serialiser(records)(e)):
        got = md_pb.CausalMarketingData.FromString(payload)
        assert list(got.knowledge_graph_nodes) == e.graph_nodes[row]
        assert [a.region for a in got.conceptual_assignments] == [
            str(a.region[row]) for a in e.assignments
        ]
        assert not got.embedding_vector
