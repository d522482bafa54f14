"""Fuzzed raw rows for every connector: mutants of real export lines (``sim.raw.mutate``) and
hypothesis-generated values in real rows, mixed with clean rows.

Whatever a row holds, it is accepted or rejected alone — with a field, a reason and a
message — and the clean rows beside it are stored: in process through the pipeline (the
bulk of the volume, with the records checked against memory's rules and encoded as Ingest
encodes them), and over gRPC to real ingestion and memory servers.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.external_factors import FactorTable
from ingestion_svc.history import StreamHistory
from ingestion_svc.pipeline import BatchResult, finish, prepare
from ingestion_svc.raw_batch import Account
from mesh.runtime import record_rules
from mesh.runtime.frames.wire import write_request_wire
from sim.raw.mutate import Batch, mixed_batches
from tests.ingestion.conftest import PULLED, raw_batch
from tests.ingestion.fuzzing import SOURCES, Corpus, broken_promises, corpus, request

# In process: 5 sources x 24 batches x 100 mutants = 12,000 mutated rows (+ 3,000 clean).
IN_PROCESS_BATCHES = 24
MUTANTS = 100
CLEAN = 25
# Over gRPC: 5 sources x 2 batches x (150 mutants + 40 clean).
WIRE_BATCHES = 2
WIRE_MUTANTS = 150
WIRE_CLEAN = 40


@pytest.fixture(scope="module")
def corpora(world: sim.SimResult) -> dict[str, Corpus]:
    return {s: corpus(world, s) for s in SOURCES}


def _account(c: Corpus) -> Account:
    return Account(**c.account)


def _run(c: Corpus, batches: list[Batch]) -> list[tuple[Batch, BatchResult]]:
    history = StreamHistory()
    out = []
    for k, b in enumerate(batches):
        batch = raw_batch(
            c.source, b.lines, _account(c), batch_id=f"f{k}", row_offset=k * len(b.lines),
            mapping=c.mapping,
        )  # fmt: skip
        result = finish(prepare(batch), history, [], FactorTable.empty(), PULLED)
        history.add(result.history_rows)
        out.append((b, result))
    return out


def _check(c: Corpus, runs: list[tuple[Batch, BatchResult]]) -> int:
    """Every promise kept; returns the rows checked."""
    problems: list[str] = []
    rows = 0
    for b, result in runs:
        rows += len(b.lines)
        rejections = [(r.row_index, r.field, r.reason, r.message) for r in result.rejections]
        problems += broken_promises(b, result.accepted, rejections)
        stored = set(result.records["natural_key"])
        missing = [c.keys[g] for g in b.good if g is not None and c.keys[g] not in stored]
        if missing:
            problems.append(f"clean rows not written: {missing[:3]}")
        refused = record_rules.violations(result.records, "acme", 5)
        if refused:
            problems.append(f"records memory would refuse: {refused}")
        write_request_wire("acme", result.records)  # encodes as Ingest does (valid UTF-8)
    assert not problems, f"{c.source}: " + "\n".join(problems[:10])
    return rows


@pytest.mark.parametrize("source", SOURCES)
def test_mutated_export_lines_in_process(
    corpora: dict[str, Corpus], source: str, caplog: pytest.LogCaptureFixture
) -> None:
    c = corpora[source]
    batches = mixed_batches(
        c.clean, c.mutable, seed=13, batches=IN_PROCESS_BATCHES, mutated=MUTANTS, good=CLEAN
    )
    kinds = {m.kind for b in batches for m in b.mutants if m is not None}
    assert len(kinds) >= 12  # every kind of mutation was drawn
    assert _check(c, _run(c, batches)) == IN_PROCESS_BATCHES * (MUTANTS + CLEAN)
    # No whole-column step raised: the row-by-row safety net was never needed.
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[:2000]


# Any JSON value: the types each field should hold, and every other.
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**15, max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.from_regex(r"-?\d{1,30}(\.\d{1,5})?([eE][-+]?\d{1,4})?", fullmatch=True)
    | st.dates().map(lambda d: d.isoformat())
    | st.from_regex(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?", fullmatch=True)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return [prefix]
    out = [prefix] if prefix else []
    for k, v in items:
        out += _leaf_paths(v, (*prefix, k))
    return out


@settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_values_in_real_rows(corpora: dict[str, Corpus], data: st.DataObject) -> None:
    """Hypothesis puts any JSON value at any path of real rows (20 rows an example, beside
    5 clean ones): 2,400 rows over the examples."""
    c = corpora[data.draw(st.sampled_from(SOURCES))]
    entries: list[tuple[str, int | None]] = []
    for _ in range(20):
        row = json.loads(json.dumps(c.mutable[data.draw(st.integers(0, len(c.mutable) - 1))]))
        path = data.draw(st.sampled_from(_leaf_paths(row)))
        parent = row
        for p in path[:-1]:
            parent = parent[p]
        parent[path[-1]] = data.draw(_JSON)
        entries.append((json.dumps(row), None))
    first = data.draw(st.integers(0, len(c.clean) - 5))
    for k in range(first, first + 5):
        entries.insert(data.draw(st.integers(0, len(entries))), (json.dumps(c.clean[k]), k))
    batch = Batch([e[0] for e in entries], [None] * len(entries), [e[1] for e in entries])
    _check(c, _run(c, [batch]))


@pytest.mark.parametrize("source", SOURCES)
def test_mutated_export_lines_over_grpc(services, corpora: dict[str, Corpus], source: str) -> None:  # type: ignore[no-untyped-def]
    """Mixed batches through a real Ingest stream: no batch fails, every clean row is in
    memory afterwards."""
    c = corpora[source]
    batches = mixed_batches(
        c.clean, c.mutable, seed=29, batches=WIRE_BATCHES, mutated=WIRE_MUTANTS, good=WIRE_CLEAN
    )
    size = WIRE_MUTANTS + WIRE_CLEAN
    requests = [
        request(c, b.lines, f"w{k}", org="fuzz", pulled=PULLED, offset=k * size)
        for k, b in enumerate(batches)
    ]
    channel = grpc.insecure_channel(services["ingestion"].address)
    acks = list(ingestion_grpc.IngestionServiceStub(channel).Ingest(iter(requests), timeout=120))
    problems: list[str] = []
    for b, ack in zip(batches, acks, strict=True):
        rejections = [(r.row_index, r.field, _reason(r.reason), r.message) for r in ack.rejections]
        problems += broken_promises(b, ack.accepted_count, rejections)
    memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    stored = {
        r.natural_key
        for reply in memory.Scan(memory_pb.ScanRequest(org_id="fuzz"), timeout=60)
        for r in reply.records
    }
    wanted = {c.keys[g] for b in batches for g in b.good if g is not None}
    assert len(wanted) == WIRE_BATCHES * WIRE_CLEAN
    assert not problems, "\n".join(problems[:10])
    assert wanted <= stored, sorted(wanted - stored)[:5]


def _reason(value: int) -> str:
    return ingestion_pb.RejectionReason.Name(value).removeprefix("REJECTION_REASON_").lower()
