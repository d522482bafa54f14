"""Per-org FAISS indexes derived from the store: exact below a size threshold, IVF above.

* Exact: ``IndexIDMap2(IndexFlatIP)`` — brute-force inner product (cosine on unit vectors).
* ANN: ``IndexIVFFlat`` (inner product) with the store's seqs as its own ids. Not wrapped in
  ``IndexIDMap2``: in faiss 1.15.1, ``IndexIDMap2(IVF).remove_ids`` compacts the
  id map positionally while the IVF lists keep their internal ids, so searches after a
  removal return wrong ids. IVF stores 64-bit ids natively and removes them correctly.
  ``nlist = clamp(4·√n, 1, 512)`` (and at most n/39 so k-means has enough points), searched
  at ``nprobe`` 8, trained on a sample of at most 39·nlist vectors — FAISS's own minimum per
  centroid (Jégou, Douze & Schmid 2011, the IVF scheme); the index is retrained when the
  org has grown 4× since training, so lists stay balanced.
  Every added vector is compared with every centroid, so nlist sets the write cost; the
  searched fraction (nprobe / nlist) sets recall and search cost: 512 lists at nprobe 8
  write and train for far less CPU than 1,024 at 16, for the same recall and search time.
* Compressed IVF, above ``compress_threshold`` vectors (when the manager has the store to
  re-rank from): ``IndexIVFPQFastScan`` with 4-bit codes for each pair of dimensions — an
  eighth of IVFFlat's memory, scanned with SIMD lookup tables (8-bit scalar codes, a
  quarter, for an odd dimension; an index saved with those still loads) — whose top
  ``rerank × k`` (at least ``rerank_min``) shortlist is re-scored exactly from the float vectors
  the store keeps, so what is returned is ranked by true cosine (the codes only choose the
  shortlist). It is built streaming from the store (a sample to train, then pages), never
  holding every float vector in memory. Such a search reads the store, so it is never run
  inline on the event loop (``scan_cost`` is infinite).
* Memory budget (``memory_budget`` bytes, 0: none): orgs' indexes and id maps are kept
  while they fit; past the budget the least recently used org's is saved and dropped, and
  loaded again (from its file, caught up and verified against the store) on its next use —
  never on an event loop thread, where :meth:`IndexManager.get` answers None instead so
  the caller moves the search to a worker thread. Start loads every org once to verify it,
  keeping the most recent that fit.
* Following the store (``follow_s`` > 0: several memory processes on one PostgreSQL
  database): :meth:`IndexManager.follow` brings an org's index and id map up to the store —
  versions replaced and records written by other processes since the index's last seq, read
  as recovery's catch-up reads them — and a local write first catches up what other
  processes committed before it (seqs follow commit order across processes, so "after the
  index's last seq" misses nothing). ``memory_svc.app`` runs it every ``follow_s`` seconds
  for every org, so a write through one process is searchable through the others within
  about that interval.
* Persistence: ``<org>-<hash>.faiss`` plus a JSON sidecar (kind, dim, count, checksum of
  seqs, last seq applied, the file's digest: :mod:`memory_svc.saved_files`). On start an index is loaded, caught up from the store (records
  written and versions replaced after its last seq) and verified against the store's
  (count, checksum); a missing, unreadable or mismatching index is rebuilt from the stored
  vectors — never re-embedded — and so is one with more lists than ``max_nlist`` (saved
  under a larger cap), since nprobe is sized for the cap.
* Record ids: the manager also holds each org's seq → record id map (``RecordIds``), built
  from the store on start and changed in :meth:`IndexManager.apply` under the org's lock,
  so whoever holds the lock sees the index and the ids agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from memory_svc import saved_files
from memory_svc.record_ids import RecordIds
from memory_svc.store import OrgState, seq_checksum

__all__ = ["IndexManager", "IndexSettings", "OrgIndex", "VectorSource"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """Thresholds and search parameters."""

    ivf_threshold: int = 50_000
    nprobe: int = 8
    max_nlist: int = 512
    retrain_growth: float = 4.0
    save_min_changes: int = 20_000
    save_fraction: float = 0.5
    seed: int = 1234
    train_per_list: int = 39  # k-means sample per list, and the fewest vectors per list
    # IVF with compressed codes above this many vectors, its shortlist of rerank × k (at
    # least rerank_min) re-scored exactly from the store's vectors: 4-bit PQ estimates need
    # a wider shortlist than 8-bit codes did, and wider as the org grows (recall@10 at 80:
    # 1.000 at 200k, 0.984 at 3M, 0.845 at 10M; at 10M 160 gives 0.973 for +0.7 ms a query,
    # 320 0.997 for +2.6 ms: bench/memory_10m.py, docs/performance.md)
    compress_threshold: int = 2_000_000
    rerank: int = 16
    rerank_min: int = 160
    memory_budget: int = 0  # bytes of indexes and id maps kept loaded; 0 = unbounded
    follow_s: float = 0.0  # follow the store's commits by other processes every so often


class VectorSource(Protocol):
    """What recovery reads from the store."""

    def iter_vectors(
        self, org_id: str, dim: int, after_seq: int, page: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...
    def removed_since(self, org_id: str, seq: int) -> np.ndarray: ...


class StoredVectors(VectorSource, Protocol):
    """The store's vectors by seq too: what a compressed index re-ranks with."""

    def vectors(self, seqs: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]: ...
    def org_state(self, org_id: str) -> OrgState | None: ...
    def hits(self, org_id: str, seqs: Sequence[int], with_payload: bool) -> dict[int, Any]: ...
    def iter_record_ids(self, org_id: str, page: int) -> Iterator[tuple[np.ndarray, list[str]]]: ...


# what an id map costs per record, about: 8-byte seq, 16-byte string slot, a 32-char id's bytes
_ID_BYTES = 56


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _nlist(n: int, settings: IndexSettings) -> int:
    return int(max(1, min(4 * np.sqrt(n), settings.max_nlist, n // settings.train_per_list)))


def _codes_index(dim: int, nlist: int) -> Any:
    """The compressed IVF's codes: 4-bit product quantisation (two dimensions per
    sub-quantiser) searched with FAISS's fast-scan kernels (André, Kermarrec & Le Scouarnec
    2015; lookup tables held in SIMD registers) — 16 bytes per 32 float bytes, and a scan
    ~10× faster than 8-bit scalar codes on this hardware (both re-ranked exactly from the
    store). An odd dimension cannot be split in pairs: 8-bit scalar codes then."""
    quantizer = faiss.IndexFlatIP(dim)
    if dim % 2 == 0:
        return faiss.IndexIVFPQFastScan(
            quantizer, dim, nlist, dim // 2, 4, faiss.METRIC_INNER_PRODUCT
        )
    return faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )


class OrgIndex:
    """One org's index and the last store seq it reflects."""

    # faiss objects are SWIG proxies whose concrete class (IndexIDMap2 / IndexIVFFlat) the
    # stubs cannot follow, hence Any.
    def __init__(
        self,
        index: Any,
        kind: str,
        dim: int,
        max_seq: int,
        trained: int,
        *,
        compressed: bool = False,
    ):
        self.index = index
        self.kind = kind  # "exact" | "ivf"
        self.dim = dim
        self.max_seq = max_seq
        self.trained_size = trained
        self.compressed = compressed  # IVF with compressed codes, re-ranked from the store
        # seqs → (seqs found, their float vectors): set by the manager for a compressed index
        self.stored: StoredVectors | None = None
        self.rerank = 4
        self.rerank_min = 40

    @classmethod
    def exact(cls, dim: int) -> OrgIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), "exact", dim, 0, 0)

    @classmethod
    def ivf(
        cls, ids: np.ndarray, vectors: np.ndarray, settings: IndexSettings, max_seq: int
    ) -> OrgIndex:
        n, dim = vectors.shape
        nlist = _nlist(n, settings)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(settings.seed)
        sample = min(n, settings.train_per_list * nlist)
        train = (
            vectors[np.sort(rng.choice(n, size=sample, replace=False))] if sample < n else vectors
        )
        index.train(np.ascontiguousarray(train))
        index.add_with_ids(np.ascontiguousarray(vectors), np.ascontiguousarray(ids))
        index.nprobe = settings.nprobe
        return cls(index, "ivf", dim, max_seq, n)

    @classmethod
    def compressed_from(
        cls,
        pages: Iterator[tuple[np.ndarray, np.ndarray]],
        train: np.ndarray,
        n: int,
        settings: IndexSettings,
        max_seq: int,
    ) -> OrgIndex:
        """A compressed IVF trained on ``train`` (a sample of the ``n`` vectors), filled
        from ``pages`` one at a time."""
        dim = train.shape[1]
        nlist = _nlist(n, settings)
        index = _codes_index(dim, nlist)
        index.train(np.ascontiguousarray(train, dtype=np.float32))
        for seqs, vectors in pages:
            index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(seqs, dtype=np.int64),
            )
        index.nprobe = settings.nprobe
        return cls(index, "ivf", dim, max_seq, n, compressed=True)

    def bytes_held(self) -> int:
        """About what the index holds in memory: codes (or floats) and 8-byte ids."""
        per = (int(self.index.code_size) if self.compressed else 4 * self.dim) + 8
        centroids = 4 * self.dim * self.nlist
        return self.size * per + centroids

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def nlist(self) -> int:
        return int(self.index.nlist) if self.kind == "ivf" else 0

    def scan_cost(self, nprobe: int) -> float:
        """Vector components one unfiltered query reads: every vector (exact), or the
        coarse centroids plus ``nprobe`` lists of average length (IVF)."""
        if self.kind == "exact":
            return float(self.size * self.dim)
        if self.compressed:
            return math.inf  # the shortlist is re-ranked from the store: I/O
        nlist = self.nlist
        return (nlist + min(nprobe, nlist) * self.size / nlist) * self.dim

    def ids(self) -> np.ndarray:
        if self.kind == "exact":
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        inv = self.index.invlists
        parts = [
            faiss.rev_swig_ptr(inv.get_ids(lst), inv.list_size(lst)).copy()
            for lst in range(self.index.nlist)
            if inv.list_size(lst)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) currently held, for re-indexing without touching the store."""
        if self.compressed:
            raise ValueError("a compressed index holds codes, not vectors: rebuild from the store")
        if self.kind == "exact":
            flat: Any = faiss.downcast_index(self.index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), self.size * self.dim).copy()
            return self.ids(), vectors.reshape(self.size, self.dim)
        inv = self.index.invlists
        ids, vecs = [], []
        for lst in range(self.index.nlist):
            m = inv.list_size(lst)
            if m:
                ids.append(faiss.rev_swig_ptr(inv.get_ids(lst), m).copy())
                codes = faiss.rev_swig_ptr(inv.get_codes(lst), m * self.dim * 4).copy()
                vecs.append(codes.view(np.float32).reshape(m, self.dim))
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32)
        return np.concatenate(ids).astype(np.int64), np.vstack(vecs)

    def checksum(self) -> int:
        return seq_checksum(self.ids())

    def add(self, seqs: np.ndarray, vectors: np.ndarray) -> None:
        if len(seqs):
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(seqs, dtype=np.int64),
            )

    def remove(self, seqs: np.ndarray) -> None:
        if len(seqs):
            self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(seqs, np.int64)))

    def search(
        self, query: np.ndarray, k: int, *, allowed: np.ndarray | None = None, nprobe: int = 8
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, seqs) best first; ``allowed`` restricts to those seqs (faiss IDSelector)."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        selector = (
            faiss.IDSelectorBatch(np.ascontiguousarray(allowed, np.int64))
            if allowed is not None
            else None
        )
        params: Any = None
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=min(nprobe, self.nlist))  # type: ignore[call-arg]
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        if self.compressed and self.stored is not None:
            wide = min(self.size, max(self.rerank * k, self.rerank_min))
            _, ids = self.index.search(q, wide, params=params)
            return self._rerank(q[0], ids[0][ids[0] >= 0], k)
        scores, ids = self.index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _rerank(
        self, q: np.ndarray, shortlist: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The shortlist's top k by exact inner product with the stored float vectors; seqs
        the store no longer has (replaced meanwhile) drop out."""
        assert self.stored is not None
        seqs, vectors = self.stored.vectors(shortlist, self.dim)
        if len(seqs) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = vectors @ q
        top = np.argsort(-scores, kind="stable")[:k]
        return scores[top].astype(np.float32), seqs[top]


def _file_stem(org_id: str) -> str:
    # The hash keeps names distinct on case-insensitive file systems.
    return f"{org_id}-{hashlib.sha256(org_id.encode()).hexdigest()[:10]}"


@dataclass(frozen=True, slots=True)
class Recovery:
    """How an org's index came back on start."""

    org_id: str
    how: str  # loaded | caught_up | rebuilt
    size: int
    seconds: float


class IndexManager:
    """Holds every org's index, applies changes, persists and recovers them."""

    def __init__(
        self, root: Path, settings: IndexSettings, stored: StoredVectors | None = None
    ) -> None:
        """``stored``: the store, for compressed indexes (built from and re-ranked with its
        vectors); without it every IVF keeps float vectors."""
        self.root = root
        self.settings = settings
        self.stored = stored
        root.mkdir(parents=True, exist_ok=True)
        self._orgs: dict[str, OrgIndex] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._unsaved: dict[str, int] = {}
        self._ids: dict[str, RecordIds] = {}
        self._guard = threading.Lock()
        self._recency: OrderedDict[str, None] = OrderedDict()  # least recently used first
        self._evicted: set[str] = set()  # saved and dropped under the budget; loaded on use

    def lock(self, org_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(org_id, threading.Lock())

    def get(self, org_id: str) -> OrgIndex | None:
        """The org's index, loaded again if the budget evicted it (None on an event loop
        thread then: loading is I/O; call again from a worker thread)."""
        idx = self._orgs.get(org_id)
        if idx is None and org_id in self._evicted and not _on_event_loop():
            idx = self._reload(org_id)
        if idx is not None:
            self._touch(org_id)
        return idx

    def loaded(self) -> list[str]:
        """Orgs whose index is in memory, least recently used first."""
        with self._guard:
            return [o for o in self._recency if o in self._orgs]

    def bytes_held(self, org_id: str) -> int:
        idx = self._orgs.get(org_id)
        ids = self._ids.get(org_id)
        return (idx.bytes_held() if idx else 0) + (len(ids) * _ID_BYTES if ids else 0)

    def _touch(self, org_id: str) -> None:
        with self._guard:
            self._recency[org_id] = None
            self._recency.move_to_end(org_id)

    def _reload(self, org_id: str) -> OrgIndex | None:
        """Load an evicted org's index (file + catch-up + verify) and id map from the store."""
        assert self.stored is not None
        state = self.stored.org_state(org_id)
        if state is None:
            return None
        self.recover(state, self.stored)
        ids = RecordIds.from_pages(
            self.stored.iter_record_ids(org_id, 100_000), size=state.record_count
        )
        self.set_record_ids(org_id, ids)
        _LOGGER.info("index %s loaded on use: %d vectors", org_id, state.record_count)
        self._enforce_budget(keep=org_id)
        return self._orgs.get(org_id)

    def _enforce_budget(self, keep: str) -> None:
        """Save and drop the least recently used orgs' indexes while over the budget (never
        ``keep``'s, nor one whose lock is held: a search or write is using it)."""
        budget = self.settings.memory_budget
        if budget <= 0 or self.stored is None:
            return
        for org_id in self.loaded():
            if sum(self.bytes_held(o) for o in self.loaded()) <= budget:
                return
            if org_id == keep:
                continue
            lock = self.lock(org_id)
            if not lock.acquire(blocking=False):
                continue
            try:
                if self._unsaved.get(org_id, 0):
                    self._save_locked(org_id)
                with self._guard:
                    self._orgs.pop(org_id, None)
                    self._ids.pop(org_id, None)
                    self._recency.pop(org_id, None)
                    self._evicted.add(org_id)
                _LOGGER.info("index %s evicted under the memory budget", org_id)
            finally:
                lock.release()

    def set_record_ids(self, org_id: str, ids: RecordIds) -> None:
        """Install an org's seq → record id map (built from the store on start)."""
        with self.lock(org_id):
            self._ids[org_id] = ids

    def record_ids(self, org_id: str) -> RecordIds | None:
        """The org's seq → record id map; read it under :meth:`lock`."""
        return self._ids.get(org_id)

    # -------------------------------------------------------------- persistence

    def _paths(self, org_id: str) -> tuple[Path, Path]:
        stem = _file_stem(org_id)
        return self.root / f"{stem}.faiss", self.root / f"{stem}.json"

    def save(self, org_id: str) -> None:
        with self.lock(org_id):
            self._save_locked(org_id)

    def _save_locked(self, org_id: str) -> None:
        idx = self._orgs.get(org_id)
        if idx is None:
            return
        path, sidecar = self._paths(org_id)
        tmp = path.with_suffix(".faiss.tmp")
        faiss.write_index(idx.index, str(tmp))
        content = saved_files.digest(tmp)
        saved_files.replace_synced(tmp, path)
        meta = {
            "org_id": org_id,
            "kind": idx.kind,
            "dim": idx.dim,
            "count": idx.size,
            "checksum": idx.checksum(),
            "max_seq": idx.max_seq,
            "trained_size": idx.trained_size,
            "compressed": idx.compressed,
            "blake2b": content,
        }
        tmp_meta = sidecar.with_suffix(".json.tmp")
        tmp_meta.write_text(json.dumps(meta))
        saved_files.replace_synced(tmp_meta, sidecar)
        self._unsaved[org_id] = 0

    def save_all(self) -> list[tuple[str, Exception]]:
        """Save every index with unsaved changes, each whatever the others' saves raise (a
        full disk: the file stays as it was); returns the orgs not saved, with why."""
        failed: list[tuple[str, Exception]] = []
        for org_id in [o for o in list(self._orgs) if self._unsaved.get(o, 0)]:
            try:
                self.save(org_id)
            except (OSError, RuntimeError) as exc:  # FAISS raises its write errors so
                failed.append((org_id, exc))
                for saved in self._paths(org_id):  # the half-written copy, not the file
                    saved.with_suffix(f"{saved.suffix}.tmp").unlink(missing_ok=True)
        return failed

    def _load(self, org_id: str, dim: int) -> OrgIndex | None:
        path, sidecar = self._paths(org_id)
        if not path.exists() or not sidecar.exists():
            return None
        try:
            meta = json.loads(sidecar.read_text())
            # a sidecar written before digests has none: its file is trusted as it was
            if meta.get("blake2b", "") not in ("", saved_files.digest(path)):
                raise ValueError(f"{path.name}'s bytes do not match the digest saved with it")
            index: Any = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError) as exc:
            _LOGGER.warning("index for %s unreadable (%s); rebuilding", org_id, exc)
            return None
        if meta.get("dim") != dim or index.d != dim or meta.get("org_id") != org_id:
            return None
        if meta["kind"] == "ivf":
            # read_index already returns the concrete class and owns it; a downcast_index
            # wrapper would not own it and dangle once this one is collected.
            index.nprobe = self.settings.nprobe
        compressed = bool(meta.get("compressed", False))
        if compressed and self.stored is None:
            return None  # cannot re-rank without the store: rebuild uncompressed
        saved = int(meta["max_seq"]), int(meta["trained_size"])
        return self._attach(OrgIndex(index, meta["kind"], dim, *saved, compressed=compressed))

    def _attach(self, idx: OrgIndex) -> OrgIndex:
        if idx.compressed:
            idx.stored = self.stored
            idx.rerank, idx.rerank_min = self.settings.rerank, self.settings.rerank_min
        return idx

    # ----------------------------------------------------------------- recovery

    def recover(self, state: OrgState, source: VectorSource) -> Recovery:
        """Load, catch up and verify an org's index; rebuild it from the store if needed."""
        start = time.perf_counter()
        with self.lock(state.org_id):
            idx = self._load(state.org_id, state.dim)
            how = "loaded"
            if idx is not None and idx.max_seq != state.max_seq:
                self._catch_up(idx, state, source)
                how = "caught_up"
            if idx is not None and idx.nlist > self.settings.max_nlist:
                # saved under a larger max_nlist: nprobe is sized for at most
                # max_nlist lists, so searching it would read half the fraction it should
                _LOGGER.info(
                    "index for %s has %d lists, more than %d; rebuilding",
                    state.org_id, idx.nlist, self.settings.max_nlist,
                )  # fmt: skip
                idx = None
            if idx is None or idx.size != state.record_count or idx.checksum() != state.checksum:
                if idx is not None:
                    _LOGGER.warning("index for %s is stale; rebuilding", state.org_id)
                idx = self._rebuild(state, source)
                how = "rebuilt"
            self._orgs[state.org_id] = idx
            self._evicted.discard(state.org_id)
            if how != "loaded":
                self._save_locked(state.org_id)
        self._touch(state.org_id)
        self._enforce_budget(keep=state.org_id)
        return Recovery(state.org_id, how, idx.size, time.perf_counter() - start)

    def follow(self, org_id: str) -> int:
        """Bring the org's index and id map up to the store (commits of other processes);
        an org new to this process is recovered from the store, one the budget dropped is
        left to its next use. Returns the vectors added or withdrawn."""
        if self.stored is None:
            return 0
        state = self.stored.org_state(org_id)
        if state is None or not state.record_count or org_id in self._evicted:
            return 0
        if self._orgs.get(org_id) is None:
            self.recover(state, self.stored)
            pages = self.stored.iter_record_ids(org_id, 100_000)
            self.set_record_ids(org_id, RecordIds.from_pages(pages, size=state.record_count))
            return state.record_count
        with self.lock(org_id):
            idx = self._orgs.get(org_id)
            if idx is None or idx.max_seq >= state.max_seq:
                return 0
            changed = self._catch_up_live(org_id, idx, None)
            idx.max_seq = max(idx.max_seq, state.max_seq)
            self._unsaved[org_id] = self._unsaved.get(org_id, 0) + changed
        return changed

    def _catch_up_live(self, org_id: str, idx: OrgIndex, before: int | None) -> int:
        """Apply what the store holds after ``idx.max_seq`` (and before ``before``) to the
        index and the id map, under the org's lock; idempotent like recovery's catch-up."""
        assert self.stored is not None
        record_ids = self._ids.setdefault(org_id, RecordIds())
        removed = self.stored.removed_since(org_id, idx.max_seq)
        idx.remove(removed)
        record_ids.remove(removed.tolist())
        changed = len(removed)
        for seqs, vectors in self.stored.iter_vectors(org_id, idx.dim, idx.max_seq, 50_000):
            if before is not None:
                keep = seqs < before
                seqs, vectors = seqs[keep], vectors[keep]
            if not len(seqs):
                continue
            rows = self.stored.hits(org_id, seqs.tolist(), False)
            found = [s for s in seqs.tolist() if s in rows]
            idx.remove(seqs)
            idx.add(seqs, vectors)
            record_ids.remove(found)
            record_ids.add(found, [rows[s].id for s in found])
            changed += len(seqs)
        return changed

    def _catch_up(self, idx: OrgIndex, state: OrgState, source: VectorSource) -> None:
        # Idempotent: everything after the saved seq is removed before it is re-added.
        idx.remove(source.removed_since(state.org_id, idx.max_seq))
        for seqs, vectors in source.iter_vectors(state.org_id, state.dim, idx.max_seq, 50_000):
            idx.remove(seqs)
            idx.add(seqs, vectors)
        idx.max_seq = state.max_seq

    def _compress(self, n: int) -> bool:
        return self.stored is not None and n >= self.settings.compress_threshold

    def _rebuild_compressed(self, org_id: str, dim: int, n: int, max_seq: int) -> OrgIndex:
        """Two streaming passes over the store: a uniform sample to train on, then every
        page added as codes — one page of float vectors in memory at a time."""
        assert self.stored is not None
        s = self.settings
        nlist = _nlist(n, s)
        rng = np.random.default_rng(s.seed)
        want = np.sort(rng.choice(n, size=min(n, s.train_per_list * nlist), replace=False))
        sample, seen = [], 0
        for _, vectors in self.stored.iter_vectors(org_id, dim, 0, 100_000):
            lo, hi = np.searchsorted(want, [seen, seen + len(vectors)])
            sample.append(vectors[want[lo:hi] - seen])
            seen += len(vectors)
        train = np.vstack(sample) if sample else np.zeros((0, dim), np.float32)
        pages = self.stored.iter_vectors(org_id, dim, 0, 100_000)
        return self._attach(OrgIndex.compressed_from(pages, train, n, s, max_seq))

    def _rebuild(self, state: OrgState, source: VectorSource) -> OrgIndex:
        if self._compress(state.record_count):
            return self._rebuild_compressed(
                state.org_id, state.dim, state.record_count, state.max_seq
            )
        pages = list(source.iter_vectors(state.org_id, state.dim, 0, 100_000))
        ids = np.concatenate([p[0] for p in pages]) if pages else np.zeros(0, np.int64)
        vectors = (
            np.vstack([p[1] for p in pages]) if pages else np.zeros((0, state.dim), np.float32)
        )
        del pages
        if len(ids) >= self.settings.ivf_threshold:
            return OrgIndex.ivf(ids, vectors, self.settings, state.max_seq)
        idx = OrgIndex.exact(state.dim)
        idx.add(ids, vectors)
        idx.max_seq = state.max_seq
        return idx

    # ------------------------------------------------------------------ updates

    def apply(
        self,
        org_id: str,
        dim: int,
        add_seqs: np.ndarray,
        add_vectors: np.ndarray,
        remove_seqs: np.ndarray,
        max_seq: int,
        add_ids: Sequence[str],
    ) -> None:
        """Withdraw replaced versions, add new ones (``add_ids`` are their record ids),
        switch/retrain IVF when it is time."""
        if org_id in self._evicted:
            reloaded = self._reload(org_id)
            if reloaded is not None and reloaded.max_seq >= max_seq:
                return  # the catch-up read this commit from the store, id map included
        with self.lock(org_id):
            idx = self._orgs.get(org_id)
            if idx is None:
                idx = self._orgs[org_id] = OrgIndex.exact(dim)
            if self.settings.follow_s > 0 and self.stored is not None and len(add_seqs):
                # other processes' commits before this one, which the index has not seen
                # yet: applied first, so this commit's max_seq does not skip them
                self._catch_up_live(org_id, idx, before=int(add_seqs.min()))
            idx.remove(remove_seqs)
            idx.add(add_seqs, add_vectors)
            record_ids = self._ids.setdefault(org_id, RecordIds())
            record_ids.remove(remove_seqs.tolist())
            record_ids.add(add_seqs.tolist(), add_ids)
            idx.max_seq = max_seq
            s = self.settings
            grow = idx.kind == "ivf" and idx.size >= s.retrain_growth * idx.trained_size
            switch = (idx.kind == "exact" and idx.size >= s.ivf_threshold) or (
                grow and _nlist(idx.size, s) > idx.nlist
            )
            if switch or (not idx.compressed and idx.kind == "ivf" and self._compress(idx.size)):
                if self._compress(idx.size):  # from the store (committed before apply)
                    idx = self._rebuild_compressed(org_id, dim, idx.size, max_seq)
                else:
                    ids, vectors = idx.export()
                    idx = OrgIndex.ivf(ids, vectors, s, max_seq)
                self._orgs[org_id] = idx
                self._unsaved[org_id] = idx.size  # force a save of the new structure
            else:
                self._unsaved[org_id] = (
                    self._unsaved.get(org_id, 0) + len(add_seqs) + len(remove_seqs)
                )
            if self._unsaved[org_id] >= max(s.save_min_changes, s.save_fraction * idx.size):
                self._save_locked(org_id)
        self._touch(org_id)
        self._enforce_budget(keep=org_id)
