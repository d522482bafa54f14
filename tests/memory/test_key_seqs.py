"""KeyMap (key hash → candidate seqs) against a dict of sets, through adds, withdrawals and
merges; and the store's identity check without SQL indexes, across a restart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_svc.key_seqs import KeyMap

_ops = st.lists(
    st.one_of(
        # a batch of (hash, seq) entries; small hash range → many collisions
        st.tuples(st.just("add"), st.lists(st.integers(-6, 30), min_size=1, max_size=25)),
        st.tuples(st.just("withdraw"), st.lists(st.integers(0, 300), max_size=10)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=_ops, probe=st.lists(st.integers(-8, 32), max_size=20))
def test_candidates_hold_every_live_entry_and_nothing_else(ops, probe) -> None:  # type: ignore[no-untyped-def]
    keys = KeyMap(min_merge=8)
    model: dict[int, set[int]] = {}
    withdrawn: set[int] = set()
    seq = 0
    for op in ops:
        if op[0] == "add":
            seqs = np.arange(seq, seq + len(op[1]))
            seq += len(op[1])
            keys.add(np.array(op[1], np.int64), seqs)
            for h, s in zip(op[1], seqs.tolist(), strict=True):
                model.setdefault(h, set()).add(s)
        else:
            keys.withdraw(op[1])
            withdrawn.update(op[1])
        for h in set(probe):
            got = set(keys.candidates(np.array([h], np.int64)).tolist())
            want = model.get(h, set())
            # withdrawn seqs may linger until a merge (the store re-checks every candidate)
            assert want - withdrawn <= got <= want
    got = set(keys.candidates(np.array(probe, np.int64)).tolist())
    assert got <= set().union(set(), *(model.get(h, set()) for h in probe))


def test_identity_survives_restart_and_restatement_with_a_new_id(tmp_path: Path) -> None:
    from liftos.v1 import memory_pb2 as memory_pb

    from memory_svc import convert
    from memory_svc.app import open_engine
    from mesh.runtime.config import PeerConfig, ServerConfig
    from mesh.runtime.synthetic_records import synthetic_records

    config = ServerConfig("memory", "127.0.0.1", 0, tmp_path, PeerConfig.from_env())
    records = synthetic_records("keys", 30, seed=2)

    def write(engine, batch):  # type: ignore[no-untyped-def]
        b = convert.write_batch(memory_pb.WriteRequest(org_id="keys", records=batch), None)
        return engine.write("keys", b.frame, b.given_vectors, convert.serialiser(b.records))

    engine = open_engine(config)
    try:
        assert write(engine, records).inserted == 30
    finally:
        engine.close()
    engine = open_engine(config)  # the key maps are rebuilt from the rows
    try:
        again = write(engine, records[:10])
        assert (again.inserted, again.unchanged) == (0, 10)
        moved = memory_pb.WriteRequest(org_id="keys", records=records[:1]).records[0]
        moved.id, moved.version = "another-id", moved.version + 1
        assert write(engine, [moved]).replaced == 1  # found by natural key
        back = records[0].__class__()
        back.CopyFrom(records[0])
        back.version += 2
        assert write(engine, [back]).replaced == 1  # its natural key now belongs to "another-id"
        state = engine.store.org_state("keys")
        assert state is not None and state.record_count == 30
    finally:
        engine.close()
