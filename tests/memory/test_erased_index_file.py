"""After DeleteRecords the org's search index file on disk holds none of the deleted records'
vectors (R40 F4: it kept them until 20,000 more changes or a clean stop, and a guessed
campaign name could be tested against it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import faiss
import numpy as np

from .erasure_data import ERASED_COUNT, KEPT, ORG, erase, serving, write_both


def _saved_seqs(index_dir: Path) -> list[int]:
    """The record seqs of the org's index file as saved on disk."""
    (path,) = index_dir.glob("*.faiss")
    index = faiss.read_index(str(path))
    if hasattr(index, "id_map"):
        return sorted(faiss.vector_to_array(index.id_map).tolist())
    lists = faiss.extract_index_ivf(index).invlists
    assert lists is not None
    parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
             for i in range(lists.nlist)]  # fmt: skip
    return sorted(np.concatenate(parts).tolist())


def _stored_seqs(data: Path) -> list[int]:
    db = sqlite3.connect(f"file:{data / 'memory.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq FROM records WHERE org_id = ?", (ORG,)).fetchall()
    finally:
        db.close()
    return sorted(s for (s,) in rows)


def test_the_saved_search_index_holds_no_erased_record(tmp_path: Path) -> None:
    data = tmp_path / "memory"
    with serving(tmp_path) as stub:
        write_both(stub)
    # the clean stop saved the org's index with both accounts' vectors
    assert len(_saved_seqs(data / "index")) == KEPT + ERASED_COUNT
    with serving(tmp_path) as stub:
        erase(stub)
        # read while memory still runs: a crash from here on must not leave them on disk
        stored = _stored_seqs(data)
        assert len(stored) == KEPT
        assert _saved_seqs(data / "index") == stored
