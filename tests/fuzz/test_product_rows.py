"""Mutated product rows through the real Ingest: every row of a batch is accepted or
rejected alone with a field, a reason and a message, no clean row is rejected, no batch
fails, and the clean rows land (memory's AggregateProducts holds every cell for the fuzzed
org that it holds for an org that got the clean rows alone).

The four product sources (Shopify orders and catalogue, Google Ads shopping, Meta product
rows) of a simulated products world, 100 mutants (``sim.raw.mutate``: bad dates, huge and
tiny numbers, type confusion, deep nesting, …) beside up to 25 clean rows a batch, seeded;
the first batch also carries product edges (timestamps before 1970, price × quantity past
the money cap, a discount that rounds past its price, ids twice: product_rows.edge_rows).
tests/ingestion/test_fuzz_rows.py covers the campaign sources the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from tests.fuzz import product_rows
from tests.ingestion.fuzzing import broken_promises

SEED = 0
BATCHES = 4
MUTANTS = 100
CLEAN = 25


@pytest.fixture(scope="module")
def corpora() -> dict[str, product_rows.ProductCorpus]:
    return product_rows.corpora(product_rows.world())


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("products_fuzz")) as services:
        options = [("grpc.max_send_message_length", 64 * 2**20)]
        channels = [grpc.insecure_channel(services[s].address, options=options)
                    for s in ("ingestion", "memory")]  # fmt: skip
        yield (
            ingestion_grpc.IngestionServiceStub(channels[0]),
            memory_grpc.MemoryServiceStub(channels[1]),
        )
        for channel in channels:
            channel.close()


def _rejections(ack: ingestion_pb.IngestResponse) -> list[tuple[int, str, str, str]]:
    name = ingestion_pb.RejectionReason.Name
    return [
        (r.row_index, r.field, name(r.reason).removeprefix("REJECTION_REASON_").lower(), r.message)
        for r in ack.rejections
    ]


@pytest.mark.parametrize("source", list(product_rows.SOURCES))
def test_mutated_product_rows_are_each_refused_alone_and_clean_rows_land(
    stubs, corpora, source: str
) -> None:
    ingestion, memory = stubs
    c = corpora[source]
    clean = max(1, min(CLEAN, len(c.clean) // BATCHES))  # no clean row twice
    batches = [product_rows.batch(c, SEED, i, MUTANTS, clean, edges=i == 0) for i in range(BATCHES)]
    fuzzed, alone = f"fuzz-{source}", f"clean-{source}"
    requests = [
        product_rows.request(c, b.lines, f"b{i}", org=fuzzed, offset=i * len(b.lines))
        for i, b in enumerate(batches)
    ]
    problems: list[str] = []
    kinds: Counter[tuple[str, str]] = Counter()
    acks = list(ingestion.Ingest(iter(requests), timeout=300))  # a failed batch raises here
    assert len(acks) == BATCHES
    for b, ack in zip(batches, acks, strict=True):
        rejections = _rejections(ack)
        problems += broken_promises(b, ack.accepted_count, rejections)
        rejected = {r[0] for r in rejections}
        for row, m in enumerate(b.mutants):
            if m is not None:
                kinds[m.kind, "rejected" if row in rejected else "accepted"] += 1
    assert not problems, problems[:10]
    # Some mutants get through and some do not: the batches test both paths.
    assert any(k[1] == "accepted" for k in kinds) and any(k[1] == "rejected" for k in kinds)

    lines = [
        line for b in batches for line, g in zip(b.lines, b.good, strict=True) if g is not None
    ]
    (ack,) = ingestion.Ingest(iter([product_rows.request(c, lines, "clean", org=alone)]))
    assert ack.accepted_count == len(lines) and not ack.rejections, ack
    replies = [memory.AggregateProducts(memory_pb.AggregateProductsRequest(org_id=org))
               for org in (fuzzed, alone)]  # fmt: skip
    assert replies[1].record_count > 0
    assert not product_rows.missing(*replies), product_rows.missing(*replies)
