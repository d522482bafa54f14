"""The knowledge space engine: writes, scans, filtered similarity search, graph and spaces.

Pure domain code (no gRPC, no generated protos): records arrive as a ``mesh.frames`` frame
plus a callback that serialises the enriched records, and leave as opaque payload bytes.

Write path, one writer at a time: decide insert / replace / unchanged / stale against the
store; derive the causal profile, embedding, conceptual regions and graph nodes of the
records to store; have the caller serialise them; commit everything in one SQLite
transaction (fsync'd); then apply the change to the org's FAISS index. The index is derived
data: a crash between commit and index update is repaired on start by catch-up + checksum.

Search is exact under filters: the filter is resolved in SQL, so a record that does not
match can never be returned, and k results come back whenever k records match:

* exact index (small org): FAISS search restricted to the candidate seqs (IDSelectorBatch);
* IVF index, selective filter (≤ ``exact_candidates`` matches): brute force over the
  candidates' stored vectors;
* IVF index, broad filter: over-fetch from the ANN index and keep the hits that match; if
  fewer than k survive, search again restricted to the candidates with growing nprobe up to
  the full list count (exhaustive).

FAISS answers with seqs; each org's seq → record id map (``memory_svc.idmap``) lives beside
its index and changes under the same lock, so an unfiltered search needs no SQLite at all.
That search is also offered as :meth:`MemoryEngine.search_now`, which never blocks (it
declines when a writer holds the index) and runs only when one query's scan is bounded, so
an event loop can call it directly instead of paying a thread hop.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from memory_svc.embedding import CausalEmbedder, make_embedder
from memory_svc.errors import (
    DimensionMismatch,
    InvalidRecord,
    NodeNotFound,
    OrgNotFound,
    UnknownFilterValue,
)
from memory_svc.features import causal_profile
from memory_svc.graph import (
    Neighbourhood,
    Roles,
    batch_delta,
    build_graph,
    neighbourhood,
    node_type,
    roles,
)
from memory_svc.idmap import RecordIds
from memory_svc.index import IndexManager, IndexSettings, Recovery
from memory_svc.spaces import PRIMARY_SPACE, SPACES, SpaceAssignment, assign_all
from memory_svc.store import (
    CommitBatch,
    ExistingRecord,
    RecordFilter,
    RecordStore,
    ScanRow,
)
from mesh.errors import FieldViolation, shown

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "Enrichment",
    "MemoryEngine",
    "MemorySettings",
    "SearchHit",
    "SearchResult",
    "SpaceSummary",
    "WriteOutcome",
]


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """Engine configuration (from env in ``app.py``)."""

    embedder: str = "hashing"
    index: IndexSettings = field(default_factory=IndexSettings)
    exact_candidates: int = 20_000
    # ≈ 1 ms of FAISS on this machine (1M × 256-d IVF, 512 lists at nprobe 8, reads ≈ 4.1M).
    inline_search_cost: int = 8_000_000


@dataclass(slots=True)
class WriteOutcome:
    """Counts for one batch (or a whole stream, summed)."""

    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    stale: int = 0
    org_record_count: int = 0

    def add(self, other: WriteOutcome) -> None:
        self.inserted += other.inserted
        self.replaced += other.replaced
        self.unchanged += other.unchanged
        self.stale += other.stale
        self.org_record_count = other.org_record_count


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What the memory adds to the records it stores (row i ↔ positions[i] of the batch)."""

    positions: list[int]
    vectors: np.ndarray  # (n, dim) float32, unit norm
    primary_region: list[str]  # "space/region"
    assignments: list[SpaceAssignment]  # one per space, arrays over the n rows
    graph_nodes: list[list[str]]
    replaced_versions: list[int]  # 0 when new


Serialise = Callable[[Enrichment], list[bytes]]


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


@dataclass(frozen=True, slots=True)
class SpaceSummary:
    """A conceptual space with its record counts per region."""

    name: str
    counts: dict[str, int]


class MemoryEngine:
    """Store + embeddings + FAISS + spaces + graph, safe to call from worker threads."""

    def __init__(self, store: RecordStore, indexes: IndexManager, settings: MemorySettings):
        self.store = store
        self.indexes = indexes
        self.settings = settings
        self._write_lock = threading.Lock()
        self._embedders: dict[str, CausalEmbedder] = {}
        self._embedder_lock = threading.Lock()
        self._graphs: dict[str, tuple[int, nx.MultiDiGraph]] = {}

    # ---------------------------------------------------------------- lifecycle

    def recover(self) -> list[Recovery]:
        """Bring every org's index in line with the store (load, catch up or rebuild)."""
        out = []
        for org_id in self.store.orgs():
            state = self.store.org_state(org_id)
            if state is not None and state.record_count:
                out.append(self.indexes.recover(state, self.store))
                ids = RecordIds.from_pages(self.store.iter_record_ids(org_id, 100_000))
                self.indexes.set_record_ids(org_id, ids)
        return out

    def close(self) -> None:
        with self._write_lock:
            self.indexes.save_all()
            self.store.close()

    def embedder(self, name: str) -> CausalEmbedder:
        with self._embedder_lock:
            if name not in self._embedders:
                self._embedders[name] = make_embedder(name)
            return self._embedders[name]

    def record_count(self, org_id: str) -> int:
        """How many records the org has (0 for an org never written)."""
        state = self.store.org_state(org_id)
        return state.record_count if state else 0

    def _org(self, org_id: str) -> tuple[CausalEmbedder, int]:
        state = self.store.org_state(org_id)
        if state is None or state.record_count == 0:
            raise OrgNotFound(org_id)
        return self.embedder(state.embedder), state.dim

    # -------------------------------------------------------------------- write

    def write(
        self,
        org_id: str,
        frame: pd.DataFrame,
        given_vectors: Sequence[np.ndarray | None],
        serialise: Serialise,
    ) -> WriteOutcome:
        """Store one batch idempotently; see the module docstring for the steps.

        Within a batch, records sharing an id or natural key are applied in version order
        (the highest wins; equal versions after the first are unchanged).
        """
        return self.write_group(org_id, frame, given_vectors, serialise, [len(frame)])[0]

    def write_group(
        self,
        org_id: str,
        frame: pd.DataFrame,
        given_vectors: Sequence[np.ndarray | None],
        serialise: Serialise,
        parts: Sequence[int],
    ) -> list[WriteOutcome]:
        """Store consecutive batches in one transaction (group commit): ``frame`` holds
        them in order, ``parts[j]`` rows each; one outcome per batch.

        The batches must share no id or natural key (``memory_svc.write_group``): a record
        restated by a later batch of the group would otherwise be decided as a duplicate
        within one batch (stale, no history) instead of replaced in order.
        """
        if sum(parts) != len(frame):
            raise ValueError(f"parts {list(parts)} do not add up to {len(frame)} rows")
        with self._write_lock:
            state = self.store.org_state(org_id)
            name = state.embedder if state else self.settings.embedder
            embedder = self.embedder(name)
            dim = state.dim if state else embedder.dim
            status, positions, replaces = self._classify(org_id, frame)
            outcomes = _outcomes(status, parts)
            if not positions:
                for outcome in outcomes:
                    outcome.org_record_count = state.record_count if state else 0
                return outcomes
            rows = (
                frame
                if len(positions) == len(frame)  # positions are ascending
                else frame.iloc[positions].reset_index(drop=True)
            )
            profile = causal_profile(rows)
            vectors = embedder.embed(profile)
            self._use_given(vectors, [given_vectors[p] for p in positions], positions, dim)
            assignments = assign_all(profile)
            primary = [f"{PRIMARY_SPACE}/{r}" for r in assignments[0].region]
            text = _Text(rows)
            node_roles = self._roles(org_id, rows, text, assignments)
            nodes = node_roles.node_lists()
            enrichment = Enrichment(
                positions,
                vectors,
                primary,
                assignments,
                nodes,
                [old.version if old else 0 for old in replaces],
            )
            payloads = serialise(enrichment)
            batch = self._commit_batch(
                org_id, name, dim, rows, text, enrichment, payloads, replaces, node_roles
            )
            result = self.store.commit(batch)
            self.indexes.apply(
                org_id,
                dim,
                result.seqs,
                vectors,
                result.removed_seqs,
                result.state.max_seq,
                batch.ids,
            )
            for outcome in outcomes:
                outcome.org_record_count = result.state.record_count
            return outcomes

    def _classify(
        self, org_id: str, frame: pd.DataFrame
    ) -> tuple[np.ndarray, list[int], list[ExistingRecord | None]]:
        """Each row's fate (a ``_STATUS`` code), and the rows to store (ascending) with the
        stored record each replaces (None when new)."""
        ids = frame["id"].astype(str).tolist()
        keys = frame["natural_key"].astype(str).tolist()
        versions = frame["version"].astype(np.int64).tolist()
        stored = self.store.existing(org_id, ids, keys)
        status = np.full(len(ids), _INSERTED, dtype=np.int8)
        if not stored and len(set(ids)) == len(ids):
            keyed = [k for k in keys if k]
            if len(set(keyed)) == len(keyed):
                # The usual ingest batch: every record new and named once, so every row is
                # inserted (the passes below would say so at ~4 µs a row).
                return status, list(range(len(ids))), [None] * len(ids)
        by_id = {e.id: e for e in stored}
        by_key = {e.natural_key: e for e in stored if e.natural_key}
        winners: dict[tuple[str, str], int] = {}
        order = sorted(range(len(ids)), key=lambda i: (-versions[i], i))
        # First pass: the highest version of each identity in the batch; the rest are
        # unchanged (same version) or stale (lower).
        claimed_id: dict[str, int] = {}
        claimed_key: dict[str, int] = {}
        for i in order:
            prior = claimed_id.get(ids[i])
            if prior is None and keys[i]:
                prior = claimed_key.get(keys[i])
            if prior is not None:
                status[i] = _UNCHANGED if versions[i] == versions[prior] else _STALE
                continue
            claimed_id[ids[i]] = i
            if keys[i]:
                claimed_key[keys[i]] = i
            winners[(ids[i], keys[i])] = i
        positions: list[int] = []
        replaces: list[ExistingRecord | None] = []
        for (rid, key), i in sorted(winners.items(), key=lambda kv: kv[1]):
            same_id = by_id.get(rid)
            same_key = by_key.get(key) if key else None
            if same_id and same_key and same_id.seq != same_key.seq:
                raise InvalidRecord(
                    f"natural_key {key!r} belongs to stored record {same_key.id!r}, not to {rid!r}",
                    field=f"records[{i}].natural_key",
                )
            match = same_id or same_key
            if match is not None:
                if versions[i] == match.version:
                    status[i] = _UNCHANGED
                    continue
                if versions[i] < match.version:
                    status[i] = _STALE
                    continue
                status[i] = _REPLACED
            positions.append(i)
            replaces.append(match)
        return status, positions, replaces

    @staticmethod
    def _use_given(
        vectors: np.ndarray, given: list[np.ndarray | None], positions: list[int], dim: int
    ) -> None:
        """A record that arrives with its embedding (e.g. restored from a Scan) keeps it."""
        violations = []
        for row, (vec, pos) in enumerate(zip(given, positions, strict=True)):
            if vec is None or len(vec) == 0:
                continue
            if len(vec) != dim:
                violations.append(
                    FieldViolation(
                        f"records[{pos}].embedding_vector",
                        f"embedding has {len(vec)} dimensions; this org's have {dim}",
                    )
                )
                continue
            norm = float(np.linalg.norm(vec))
            if not np.isfinite(norm) or norm == 0.0:
                violations.append(
                    FieldViolation(
                        f"records[{pos}].embedding_vector", "embedding must be finite and non-zero"
                    )
                )
                continue
            vectors[row] = np.asarray(vec, dtype=np.float32) / norm
        if violations:
            raise DimensionMismatch(violations[0].description, violations=violations)

    @staticmethod
    def _roles(
        org_id: str, rows: pd.DataFrame, text: _Text, assignments: list[SpaceAssignment]
    ) -> Roles:
        columns = {
            c: text(c)
            for c in (
                "campaign_id",
                "channel",
                "data_source",
                "geo",
                "experiment_id",
                "treatment_group",
            )
        }
        confounders = {
            c.removeprefix("confounder_strength__"): rows[c].to_numpy(np.float64, na_value=np.nan)
            for c in rows.columns
            if c.startswith("confounder_strength__")
        }
        codes, uniques = pd.factorize(
            _micros(rows).astype("datetime64[us]").astype("datetime64[M]")
        )
        months = np.array([str(m) for m in uniques], dtype=object)[codes].tolist()
        regions = [(a.space, a.region) for a in assignments]
        return roles(org_id, columns, confounders, regions, months)

    def _commit_batch(
        self,
        org_id: str,
        embedder: str,
        dim: int,
        rows: pd.DataFrame,
        text: _Text,
        e: Enrichment,
        payloads: list[bytes],
        replaces: list[ExistingRecord | None],
        node_roles: Roles,
    ) -> CommitBatch:
        names = text("campaign_name")
        campaigns = text("campaign_id")
        objectives = text("campaign_objective")
        latest = dict(zip(campaigns, zip(names, objectives, strict=True), strict=True))
        delta = batch_delta(node_roles, {})
        delta.labels.update(
            (node, _label(node, *latest.get(node.removeprefix("campaign:"), ("", ""))))
            for node in delta.nodes
        )
        for old in replaces:
            if old is not None:
                delta.add(old.graph_nodes, -1)
        per_space = []
        for a in e.assignments:
            codes, uniques = pd.factorize(np.asarray(a.region, dtype=object))
            keys = [f"{a.space}/{u}" for u in uniques.tolist()]
            per_space.append(np.array(keys, dtype=object)[codes].tolist())
        return CommitBatch(
            org_id=org_id,
            embedder=embedder,
            dim=dim,
            ids=text("id"),
            natural_keys=text("natural_key"),
            versions=rows["version"].to_numpy(np.int64).tolist(),
            timestamps_us=_micros(rows).tolist(),
            sources=text("data_source"),
            campaign_ids=campaigns,
            campaign_names=names,
            channels=text("channel"),
            geos=text("geo"),
            experiment_ids=text("experiment_id"),
            treatment_groups=text("treatment_group"),
            qualities=rows["data_quality_score"].to_numpy(np.float64).tolist(),
            primary_regions=e.primary_region,
            regions=list(zip(*per_space, strict=True)) if per_space else [()] * len(rows),
            graph_nodes=e.graph_nodes,
            payloads=payloads,
            embeddings=e.vectors,
            replaces=replaces,
            graph=delta,
            now_us=int(time.time() * 1e6),
        )

    # --------------------------------------------------------------------- read

    def check_filter(
        self, org_id: str, flt: RecordFilter, prefix: str, *, allow_unknown: bool = False
    ) -> None:
        """OrgNotFound for an unknown org; UnknownFilterValue for values the org never had
        (campaigns, channels and geos only when not ``allow_unknown``: they then match
        nothing, as the store's filter has it)."""
        self._org(org_id)
        wanted: list[tuple[str, str]] = []
        for attr, kind in (
            ("campaign_ids", "campaign"),
            ("channels", "channel"),
            ("geos", "geo"),
        ):
            if allow_unknown:
                continue
            for i, value in enumerate(getattr(flt, attr)):
                wanted.append((f"{prefix}{attr}[{i}]", f"{kind}:{value}"))
        if flt.experiment_id:
            wanted.append((f"{prefix}experiment_id", f"experiment:{flt.experiment_id}"))
        present = self.store.present_nodes(org_id, [n for _, n in wanted])
        violations = [
            FieldViolation(
                f,
                f"{n.split(':', 1)[0]} {shown(n.split(':', 1)[1])} has no records in org {org_id!r}",
            )
            for f, n in wanted
            if n not in present
        ]
        if violations:
            raise UnknownFilterValue(violations[0].description, violations=violations)

    def scan_page(
        self,
        org_id: str,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
    ) -> list[ScanRow]:
        return self.store.scan_page(org_id, flt, after, limit, with_embeddings)

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
        """Top-k records of the org by cosine similarity among those matching ``flt``."""
        idx = self.indexes.get(org_id)
        if idx is None:
            raise OrgNotFound(org_id)
        nprobe = self.indexes.settings.nprobe
        filtered = 0
        if flt.is_empty():
            with self.indexes.lock(org_id):
                idx = self.indexes.get(org_id) or idx
                scores, seqs = idx.search(query, k, nprobe=nprobe)
                while idx.kind == "ivf" and len(seqs) < min(k, idx.size) and nprobe < idx.nlist:
                    nprobe *= 4
                    scores, seqs = idx.search(query, k, nprobe=nprobe)
                kind, size = idx.kind, idx.size
        else:
            scores, seqs, filtered = self._filtered(org_id, idx, query, flt, k, nprobe)
            kind, size = idx.kind, idx.size
        return SearchResult(
            self._hits(org_id, scores, seqs, include_payloads)[:k], kind, size, filtered
        )

    def search_now(self, org_id: str, vector: np.ndarray, k: int) -> SearchResult | None:
        """The unfiltered vector search, only if it can run at once at a bounded cost.

        For callers on an event loop, where a hop to a worker thread costs about a fifth of
        a 1M-record search. None — run :meth:`search` off the loop instead — when the org has
        no index, the query needs validation errors raised, the index is being changed (its
        lock is held by a writer), one query would scan more than
        ``settings.inline_search_cost`` vector components, or the first probe found fewer
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
                or idx.scan_cost(nprobe) > self.settings.inline_search_cost
            ):
                return None
            scores, seqs = idx.search(query, k, nprobe=nprobe)
            if len(seqs) < min(k, idx.size):
                return None
            ids = record_ids.get(seqs)
            kind, size = idx.kind, idx.size
        finally:
            lock.release()
        found = [i for i in ids if i is not None]
        if len(found) != len(seqs):
            return None
        hits = [SearchHit(i, sc, None) for i, sc in zip(found, scores.tolist(), strict=True)]
        return SearchResult(hits, kind, size, 0)

    def _hits(
        self, org_id: str, scores: np.ndarray, seqs: np.ndarray, include_payloads: bool
    ) -> list[SearchHit]:
        """Hits in score order; seqs no longer stored (replaced meanwhile) are dropped."""
        seq_list = seqs.tolist()
        found: dict[int, tuple[str, bytes | None]] = {}
        if not include_payloads:
            with self.indexes.lock(org_id):
                record_ids = self.indexes.record_ids(org_id)
                ids = record_ids.get(seqs) if record_ids else [None] * len(seq_list)
            found = {s: (i, None) for s, i in zip(seq_list, ids, strict=True) if i is not None}
        # Payloads, and seqs the map does not hold yet (a filter resolved in the store can
        # see a commit whose index update is still under way), come from the store.
        rest = [s for s in seq_list if s not in found]
        if rest:
            for s, row in self.store.hits(org_id, rest, include_payloads).items():
                found[s] = (row.id, row.payload)
        return [
            SearchHit(found[s][0], sc, found[s][1])
            for sc, s in zip(scores.tolist(), seq_list, strict=True)
            if s in found
        ]

    def _filtered(
        self, org_id: str, idx, query: np.ndarray, flt: RecordFilter, k: int, nprobe: int
    ) -> tuple[np.ndarray, np.ndarray, int]:
        limit = self.settings.exact_candidates
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

    # ------------------------------------------------------------ graph, spaces

    def _graph(self, org_id: str) -> nx.MultiDiGraph:
        state = self.store.org_state(org_id)
        if state is None or state.record_count == 0:
            raise OrgNotFound(org_id)
        cached = self._graphs.get(org_id)
        if cached and cached[0] == state.max_seq:
            return cached[1]
        graph = build_graph(*self.store.graph(org_id))
        self._graphs[org_id] = (state.max_seq, graph)
        return graph

    def query_graph(
        self, org_id: str, node_id: str, depth: int, edge_types: frozenset[str], max_nodes: int
    ) -> Neighbourhood:
        graph = self._graph(org_id)
        if node_id not in graph:
            raise NodeNotFound(
                f"no node {node_id!r} in org {org_id!r}'s knowledge graph",
                resource_type="graph_node",
                resource_name=node_id,
            )
        return neighbourhood(
            graph, node_id, depth=depth, edge_types=edge_types, max_nodes=max_nodes
        )

    def spaces(self, org_id: str) -> list[SpaceSummary]:
        graph = self._graph(org_id)
        out = []
        for space in SPACES:
            counts = {}
            for region in space.regions:
                node = f"region:{space.name}/{region.name}"
                counts[region.name] = graph.nodes[node]["record_count"] if node in graph else 0
            out.append(SpaceSummary(space.name, counts))
        return out


class _Text:
    """The string columns of a batch as lists, each converted once (the graph roles and the
    commit both read the same six)."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        self._lists: dict[str, list[str]] = {}

    def __call__(self, column: str) -> list[str]:
        got = self._lists.get(column)
        if got is None:
            got = self._lists[column] = self.rows[column].astype(str).tolist()
        return got


_INSERTED, _REPLACED, _UNCHANGED, _STALE = range(4)


def _outcomes(status: np.ndarray, parts: Sequence[int]) -> list[WriteOutcome]:
    out = []
    start = 0
    for size in parts:
        counts = np.bincount(status[start : start + size], minlength=4).tolist()
        out.append(WriteOutcome(*counts))
        start += size
    return out


def _micros(rows: pd.DataFrame) -> np.ndarray:
    """The timestamp column as int64 µs since the epoch (UTC)."""
    stamps = pd.to_datetime(rows["timestamp"], utc=True)
    return stamps.dt.as_unit("us").to_numpy("datetime64[us]").view(np.int64)


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


def _label(node: str, campaign_name: str, objective: str) -> tuple[str, str, dict[str, str]]:
    kind = node_type(node)
    key = node.split(":", 1)[1]
    if kind == "campaign":
        return kind, campaign_name or key, {"objective": objective}
    if kind == "conceptual_region":
        space, region = key.split("/", 1)
        return kind, key, {"space": space, "region": region}
    if kind == "time_period":
        return kind, key, {"start_date": f"{key}-01"}
    if kind == "treatment_group":
        experiment, group = key.rsplit("/", 1)
        return kind, key, {"experiment_id": experiment, "group": group}
    return kind, key, {}


def utc_us(value: dt.datetime) -> int:
    return int(value.timestamp() * 1_000_000)
