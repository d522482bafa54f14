"""Search: exact under filters, an unfiltered vector search without the store.

The filter is resolved in SQL, so a record that does not match can never be returned, and k
results come back whenever k records match:

* exact index (small org): FAISS search restricted to the candidate seqs (IDSelectorBatch);
* IVF index, selective filter (≤ ``exact_candidates`` matches): brute force over the
  candidates' stored vectors;
* IVF index, broad filter: over-fetch from the ANN index and keep the hits that match; if
  fewer than k survive, search again restricted to the candidates with growing nprobe up to
  the full list count (exhaustive).

FAISS answers with seqs; each org's seq → record id map (``memory_svc.record_ids``) lives
beside its index and changes under the same lock, so an unfiltered search needs no SQLite at
all. That search is also offered as :meth:`Searcher.search_now`, which never blocks (it
declines when a writer holds the index) and runs only when one query's scan is bounded, so
an event loop can call it directly instead of paying a thread hop.

Exact score ties (records with the same embedding: one campaign's day in several geos) are
ranked by record id, not by FAISS's order, which is the order the records were written in:
the same data ingested in another order ranks the same. Every path fetches a few hits past k
(more while the last one fetched still ties the k-th), so which tied records make the cut
is decided by id as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from memory_svc.embedding import CausalEmbedder, Embedders
from memory_svc.errors import DimensionMismatch, OrgNotFound
from memory_svc.faiss_index import IndexManager
from memory_svc.filter_values import checked_filter
from memory_svc.store import RecordFilter, RecordStore

_LOGGER = logging.getLogger(__name__)

__all__ = ["SearchHit", "SearchResult", "Searcher"]

# Hits fetched past k, so that records tied with the k-th are all seen and ranked by id.
TIE_MARGIN = 16
# At most this many past k, however large the tie (V2-F3: a tie group of 20k identical
# vectors read whole took a k=10 search from 40 to 392 ms); a larger group is ranked by id
# among the hits fetched.
MAX_TIE_FETCH = 1024


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One hit: record id, cosine score, payload when asked."""

    record_id: str
    score: float
    payload: bytes | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits best first and how they were found."""

    hits: list[SearchHit]
    index_kind: str
    index_size: int
    filtered_count: int


class Searcher:
    """Filtered similarity search over the store and the FAISS indexes; safe to call from
    worker threads."""

    def __init__(
        self,
        store: RecordStore,
        indexes: IndexManager,
        embedders: Embedders,
        *,
        exact_candidates: int,
        inline_search_cost: int,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedders = embedders
        self.exact_candidates = exact_candidates
        self.inline_search_cost = inline_search_cost

    def _org(self, org_id: str) -> tuple[CausalEmbedder, int]:
        state = self.store.org_state(org_id)
        if state is None or state.record_count == 0:
            raise OrgNotFound(org_id)
        return self.embedders.get(state.embedder), state.dim

    def check_filter(
        self, org_id: str, flt: RecordFilter, prefix: str, *, allow_unknown: bool = False
    ) -> RecordFilter:
        """The filter to search by: OrgNotFound for an unknown org; UnknownFilterValue for
        values the org never had, naming the closest it has; a geo the org has under another
        spelling ("CA" for "US-CA") read as the stored one (``memory_svc.filter_values``).
        With ``allow_unknown`` campaigns, channels and geos are taken as given and match
        nothing the org lacks, as the store's filter has it."""
        self._org(org_id)
        return checked_filter(self.store, org_id, flt, prefix, allow_unknown=allow_unknown)

    def query_vector(self, org_id: str, text: str | None, vector: np.ndarray | None) -> np.ndarray:
        """The unit query vector for a text or raw vector query, checked against the org."""
        embedder, dim = self._org(org_id)
        if text is not None:
            q = embedder.embed_query(text)
        else:
            assert vector is not None
            if len(vector) != dim:
                raise DimensionMismatch(
                    f"vector has {len(vector)} dimensions; org {org_id!r} has {dim}",
                    field="vector.values",
                )
            q = vector.astype(np.float32)
        unit = _unit(q)
        if unit is None:
            raise DimensionMismatch(
                "the query has no component in the embedding space (empty text or zero vector)",
                field="text" if text is not None else "vector.values",
            )
        return unit

    def search(
        self,
        org_id: str,
        query: np.ndarray,
        flt: RecordFilter,
        k: int,
        *,
        include_payloads: bool = False,
    ) -> SearchResult:
        """Top-k records of the org by cosine similarity among those matching ``flt``; equal
        scores ranked by record id."""
        idx = self.indexes.get(org_id)
        if idx is None:
            raise OrgNotFound(org_id)
        best = _past_ties(k, lambda fetch: self._best(org_id, idx, query, flt, fetch))
        assert best is not None  # _best always answers
        scores, seqs, filtered = best
        idx = self.indexes.get(org_id) or idx
        found = _ranked(self._hits(org_id, scores, seqs), k)
        payloads = (
            self.store.hits(org_id, [h.seq for h in found], True)
            if include_payloads and found
            else {}
        )
        hits = [
            SearchHit(h.record_id, h.score, payloads[h.seq].payload if payloads else None)
            for h in found
            # a record replaced between the two reads is dropped, as a seq no longer stored is
            if not include_payloads or h.seq in payloads
        ]
        return SearchResult(hits, idx.kind, idx.size, filtered)

    def _best(
        self, org_id: str, idx, query: np.ndarray, flt: RecordFilter, k: int
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """(scores, seqs, filtered count) of the best ``k`` in FAISS's order."""
        nprobe = self.indexes.settings.nprobe
        if not flt.is_empty():
            return self._filtered(org_id, idx, query, flt, k, nprobe)
        with self.indexes.lock(org_id):
            idx = self.indexes.get(org_id) or idx
            scores, seqs = idx.search(query, k, nprobe=nprobe)
            while idx.kind == "ivf" and len(seqs) < min(k, idx.size) and nprobe < idx.nlist:
                nprobe *= 4
                scores, seqs = idx.search(query, k, nprobe=nprobe)
        return scores, seqs, 0

    def search_now(self, org_id: str, vector: np.ndarray, k: int) -> SearchResult | None:
        """The unfiltered vector search, only if it can run at once at a bounded cost.

        For callers on an event loop, where a hop to a worker thread is a large share of
        such a search. None — run :meth:`search` off the loop instead — when the org has
        no index, the query needs validation errors raised, the index is being changed (its
        lock is held by a writer), one query would scan more than
        ``inline_search_cost`` vector components, or the first probe found fewer
        than k hits. Never touches the store; returns what :meth:`search` would.
        """
        query = _unit(vector)
        if query is None or self.indexes.get(org_id) is None:  # no lock for unknown orgs
            return None
        lock = self.indexes.lock(org_id)
        if not lock.acquire(blocking=False):
            return None
        try:
            idx = self.indexes.get(org_id)
            record_ids = self.indexes.record_ids(org_id)
            nprobe = self.indexes.settings.nprobe
            if (
                idx is None
                or record_ids is None
                or idx.size == 0
                or len(vector) != idx.dim
                or idx.scan_cost(nprobe) > self.inline_search_cost
            ):
                return None

            def probe(fetch: int) -> tuple[np.ndarray, np.ndarray] | None:
                scores, seqs = idx.search(query, fetch, nprobe=nprobe)
                # fewer than asked from the first probe: search() widens nprobe, off the loop
                return (scores, seqs) if len(seqs) >= min(fetch, idx.size) else None

            probed = _past_ties(k, probe)
            if probed is None:
                return None
            scores, seqs = probed
            ids = record_ids.get(seqs)
            kind, size = idx.kind, idx.size
        finally:
            lock.release()
        known = [i for i in ids if i is not None]
        if len(known) != len(ids):
            return None
        found = [
            _Found(s, i, sc) for s, i, sc in zip(seqs.tolist(), known, scores.tolist(), strict=True)
        ]
        hits = [SearchHit(h.record_id, h.score, None) for h in _ranked(found, k)]
        return SearchResult(hits, kind, size, 0)

    def _hits(self, org_id: str, scores: np.ndarray, seqs: np.ndarray) -> list[_Found]:
        """The hits' record ids; seqs no longer stored (replaced meanwhile) are dropped."""
        seq_list = seqs.tolist()
        with self.indexes.lock(org_id):
            record_ids = self.indexes.record_ids(org_id)
            ids = record_ids.get(seqs) if record_ids else [None] * len(seq_list)
        found = {s: i for s, i in zip(seq_list, ids, strict=True) if i is not None}
        # Seqs the map does not hold yet (a filter resolved in the store can see a commit
        # whose index update is still under way) come from the store.
        rest = [s for s in seq_list if s not in found]
        if rest:
            for s, row in self.store.hits(org_id, rest, False).items():
                found[s] = row.id
        return [
            _Found(s, found[s], sc)
            for sc, s in zip(scores.tolist(), seq_list, strict=True)
            if s in found
        ]

    def _filtered(
        self, org_id: str, idx, query: np.ndarray, flt: RecordFilter, k: int, nprobe: int
    ) -> tuple[np.ndarray, np.ndarray, int]:
        limit = self.exact_candidates
        if idx.kind == "exact":
            cand = self.store.candidates(org_id, flt, None)
            with self.indexes.lock(org_id):
                scores, seqs = idx.search(query, k, allowed=cand)
            _LOGGER.debug("search path=exact-selector candidates=%d", len(cand))
            return scores, seqs, len(cand)
        cand = self.store.candidates(org_id, flt, limit + 1)
        if len(cand) <= limit:
            got, vectors = self.store.vectors(cand, idx.dim)
            _LOGGER.debug("search path=brute-force candidates=%d", len(cand))
            return (*_top_k(query, got, vectors, k), len(cand))
        # Broad filter: most ANN neighbours match, so over-fetch and keep the matching ones.
        fetch = 4 * k
        with self.indexes.lock(org_id):
            while True:
                scores, seqs = idx.search(query, fetch, nprobe=nprobe)
                ok = np.isin(seqs, self.store.matching(org_id, seqs, flt))
                if ok.sum() >= k or fetch >= idx.size or fetch >= 16 * k:
                    break
                fetch *= 4
        if ok.sum() >= k:
            _LOGGER.debug("search path=over-fetch fetched=%d", fetch)
            return scores[ok][:k], seqs[ok][:k], 0
        cand = self.store.candidates(org_id, flt, None)
        with self.indexes.lock(org_id):
            while True:
                scores, seqs = idx.search(query, k, allowed=cand, nprobe=nprobe)
                if len(seqs) >= min(k, len(cand)) or nprobe >= idx.nlist:
                    break
                nprobe *= 4
        _LOGGER.debug("search path=restricted candidates=%d nprobe=%d", len(cand), nprobe)
        return scores, seqs, len(cand)


@dataclass(frozen=True, slots=True)
class _Found:
    """A hit before its payload: the FAISS seq it was found under."""

    seq: int
    record_id: str
    score: float


def _ranked(found: list[_Found], k: int) -> list[_Found]:
    """The best ``k``, equal scores in record id order (not the order they were written)."""
    return sorted(found, key=lambda h: (-h.score, h.record_id))[:k]


_Best = TypeVar("_Best", bound=tuple[Any, ...])


def _past_ties(k: int, best: Callable[[int], _Best | None]) -> _Best | None:
    """``best(fetch)`` (its first item the scores, best first) for ``fetch`` = k +
    ``TIE_MARGIN``, then four times as many while the last fetched may still tie the k-th
    (:func:`_tie_cut`); None as soon as ``best`` declines (returns None). The one tie-fetch
    loop of :meth:`Searcher.search` and :meth:`Searcher.search_now`."""
    fetch = k + TIE_MARGIN
    while (got := best(fetch)) is not None and _tie_cut(got[0], k, fetch):
        fetch *= 4
    return got


def _tie_cut(scores: np.ndarray, k: int, fetched: int) -> bool:
    """Whether more hits than the ``fetched`` asked for may tie the k-th: all came back, the
    last ties the k-th (scores best first), and ``MAX_TIE_FETCH`` past k is not reached."""
    return (k > 0 and len(scores) >= fetched > k and fetched < k + MAX_TIE_FETCH
            and bool(scores[fetched - 1] >= scores[k - 1]))  # fmt: skip


def _unit(q: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(q))
    return (q / norm).astype(np.float32) if norm != 0.0 else None


def _top_k(
    query: np.ndarray, seqs: np.ndarray, vectors: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(seqs) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = vectors @ query
    k = min(k, len(seqs))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return scores[top], seqs[top]
