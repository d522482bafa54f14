"""RecordIds (seq → record id beside each FAISS index) against a dict, through merges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_svc.record_ids import RecordIds

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 40), st.booleans()),
        st.tuples(st.just("remove"), st.lists(st.integers(0, 400), max_size=30)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(start=st.integers(0, 50), ops=_ops)
def test_lookups_match_a_dict_through_adds_removes_and_merges(start, ops) -> None:  # type: ignore[no-untyped-def]
    base = np.arange(1, start + 1, dtype=np.int64) * 2
    model = {int(s): f"id-{s}" for s in base}
    ids = RecordIds(base[::-1].copy(), [model[int(s)] for s in base[::-1]], min_merge=8)
    next_seq = 2 * start + 1
    for op in ops:
        if op[0] == "add":
            _, n, reuse = op
            # seqs normally only grow; `reuse` re-adds held seqs with new ids (out of order)
            seqs = sorted(model)[:n] if reuse and model else list(range(next_seq, next_seq + n))
            next_seq = max(next_seq, *seqs) + 1
            new_ids = [f"id-{s}-{len(model)}" for s in seqs]
            ids.add(seqs, new_ids)
            model.update(zip(seqs, new_ids, strict=True))
        else:
            ids.remove(op[1])
            for s in op[1]:
                model.pop(s, None)
        assert len(ids) == len(model)
    probe = np.arange(0, next_seq + 3, dtype=np.int64)
    assert ids.get(probe) == [model.get(int(s)) for s in probe]


def test_long_and_non_ascii_ids_survive_a_merge() -> None:
    ids = RecordIds(min_merge=2)
    names = ["x" * 300, "čampaign–ü", "", "short"]
    ids.add([10, 11, 12, 13], names)
    ids.add([14, 15, 16], ["a", "b", "c"])  # merges
    assert ids.get(np.array([13, 10, 11, 12, 99])) == ["short", names[0], names[1], "", None]


def test_pages_build_the_same_map() -> None:
    seqs = np.array([5, 9, 2, 40, 7], dtype=np.int64)
    ids = ["e", "i", "b", "z", "g"]
    paged = RecordIds.from_pages([(seqs[:2], ids[:2]), (seqs[2:2], []), (seqs[2:], ids[2:])])
    probe = np.arange(0, 45, dtype=np.int64)
    assert paged.get(probe) == RecordIds(seqs, ids).get(probe) and len(paged) == 5


@pytest.mark.parametrize("size", [0, 3, 5, 9])
def test_pages_fill_a_buffer_of_the_announced_size_or_not(size: int) -> None:
    """The org's record count sizes the arrays; records written meanwhile (more) or replaced
    (fewer) still give the same map."""
    seqs = np.array([5, 9, 2, 40, 7], dtype=np.int64)
    ids = ["e", "i" * 40, "b", "z", "g"]
    pages = [(seqs[:2], ids[:2]), (seqs[2:2], []), (seqs[2:], ids[2:])]
    paged = RecordIds.from_pages(pages, size=size)
    probe = np.arange(0, 45, dtype=np.int64)
    assert paged.get(probe) == RecordIds(seqs, ids).get(probe) and len(paged) == 5
