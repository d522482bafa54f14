"""The write path: store batches of records idempotently, one writer at a time.

Records arrive as a ``mesh.runtime.frames`` frame plus a callback that serialises the enriched
records. For each batch (or group of batches): decide insert / replace / unchanged / stale
against the store; derive the causal profile, embedding, conceptual regions and graph nodes
of the records to store; have the caller serialise them; commit everything in one SQLite
transaction (fsync'd); then apply the change to the org's FAISS index. The index is derived
data: a crash between commit and index update is repaired on start by catch-up + checksum.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memory_svc.embedding import Embedders
from memory_svc.faiss_index import IndexManager
from memory_svc.features import causal_profile
from memory_svc.graph import Roles, batch_delta, node_type, roles
from memory_svc.product_table import product_rows
from memory_svc.refusals import Refusal
from memory_svc.spaces import PRIMARY_SPACE, SpaceAssignment, assign_all
from memory_svc.store import CommitBatch, ExistingRecord, RecordStore
from mesh.runtime.exceptions import shown
from mesh.runtime.frames.gc_pause import gc_paused

__all__ = ["Enrichment", "RecordWriter", "Serialise", "WriteOutcome"]


@dataclass(slots=True)
class WriteOutcome:
    """Counts for one batch (or a whole stream, summed), and the batch's refused records
    (``memory_svc.refusals``; :meth:`add` sums their count, not the list)."""

    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    stale: int = 0
    org_record_count: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    refused: int = 0

    def add(self, other: WriteOutcome) -> None:
        self.inserted += other.inserted
        self.replaced += other.replaced
        self.unchanged += other.unchanged
        self.stale += other.stale
        self.refused += other.refused
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


class RecordWriter:
    """Stores batches for the engine; one at a time (``lock``), safe to call from worker
    threads."""

    def __init__(
        self,
        store: RecordStore,
        indexes: IndexManager,
        embedders: Embedders,
        default_embedder: str,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedders = embedders
        self.default_embedder = default_embedder
        self.lock = threading.Lock()

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
        # A group holds thousands of GC-tracked objects alive at once (the records' upb
        # wrappers, per-record lists and rows); with the collector running, allocations
        # trigger collections that rescan them all, about 8% of memory's CPU on an ingest.
        # Reference counting frees them when the group is done.
        with self.lock, gc_paused():
            state = self.store.org_state(org_id)
            name = state.embedder if state else self.default_embedder
            embedder = self.embedders.get(name)
            dim = state.dim if state else embedder.dim
            refusals: list[Refusal] = []
            usable = _usable_vectors(frame, given_vectors, dim, refusals)
            status, positions, replaces = self._classify(org_id, frame, usable, refusals)
            outcomes = _outcomes(status, parts, refusals)
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
            _use_given(vectors, [given_vectors[p] for p in positions])
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
        self, org_id: str, frame: pd.DataFrame, usable: np.ndarray | None, refusals: list[Refusal]
    ) -> tuple[np.ndarray, list[int], list[ExistingRecord | None]]:
        """Each row's fate (a ``_STATUS`` code), and the rows to store (ascending) with the
        stored record each replaces (None when new). Rows not ``usable`` (None: all are) are
        already refused; a row whose natural_key is stored under another id is refused here
        (appended to ``refusals``)."""
        ids = frame["id"].astype(str).tolist()
        keys = frame["natural_key"].astype(str).tolist()
        versions = frame["version"].astype(np.int64).tolist()
        stored = self.store.existing(org_id, ids, keys)
        status = np.full(len(ids), _INSERTED, dtype=np.int8)
        if usable is None and not stored and len(set(ids)) == len(ids):
            keyed = [k for k in keys if k]
            if len(set(keyed)) == len(keyed):
                # the usual ingest batch: every record new and named once, so every row is
                # inserted (what the slower passes below would find)
                return status, list(range(len(ids))), [None] * len(ids)
        if usable is not None:
            status[~usable] = _REFUSED
        by_id = {e.id: e for e in stored}
        by_key = {e.natural_key: e for e in stored if e.natural_key}
        winners: dict[tuple[str, str], int] = {}
        order = sorted(range(len(ids)), key=lambda i: (-versions[i], i))
        # First pass: the highest version of each identity in the batch; the rest are
        # unchanged (same version) or stale (lower).
        claimed_id: dict[str, int] = {}
        claimed_key: dict[str, int] = {}
        for i in order:
            if status[i] == _REFUSED:
                continue
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
                # the record's own fault, not its message's: refused alone
                status[i] = _REFUSED
                refusals.append(
                    Refusal(
                        i,
                        rid,
                        "natural_key",
                        f"natural_key {shown(key, 120)} belongs to stored record "
                        f"{shown(same_key.id, 80)}, not to this record's id",
                    )
                )
                continue
            match = same_id or same_key
            if match is not None:
                if versions[i] == match.version:
                    conflict = _other_numbers(frame, i, match)
                    status[i] = _UNCHANGED if conflict is None else _REFUSED
                    if conflict is not None:
                        refusals.append(Refusal(i, rid, "version", conflict))
                    continue
                if versions[i] < match.version:
                    status[i] = _STALE
                    continue
                status[i] = _REPLACED
            positions.append(i)
            replaces.append(match)
        return status, positions, replaces

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
        sources = text("data_source")
        days = record_days(rows).tolist()
        return CommitBatch(
            org_id=org_id,
            embedder=embedder,
            dim=dim,
            ids=text("id"),
            natural_keys=text("natural_key"),
            versions=rows["version"].to_numpy(np.int64).tolist(),
            timestamps_us=_micros(rows).tolist(),
            sources=sources,
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
            days=days,
            measures=rows[list(MEASURES)].to_numpy(np.float64),
            currencies=text("currency_code"),
            account_ids=text("account_id"),
            unreported=(
                rows["conversions_unreported"].to_numpy(bool).tolist()
                if "conversions_unreported" in rows.columns
                else [False] * len(rows)
            ),
            replaces=replaces,
            graph=delta,
            now_us=int(time.time() * 1e6),
            products=product_rows(rows, days, org_id),
        )


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


_INSERTED, _REPLACED, _UNCHANGED, _STALE, _REFUSED = range(5)


def _outcomes(
    status: np.ndarray, parts: Sequence[int], refusals: list[Refusal]
) -> list[WriteOutcome]:
    """Each part's counts, and its refusals with their indexes in the part."""
    out = []
    start = 0
    refusals = sorted(refusals, key=lambda r: r.index)
    k = 0
    for size in parts:
        counts = np.bincount(status[start : start + size], minlength=5).tolist()
        mine: list[Refusal] = []
        while k < len(refusals) and refusals[k].index < start + size:
            r = refusals[k]
            mine.append(Refusal(r.index - start, r.record_id, r.field, r.reason))
            k += 1
        inserted, replaced, unchanged, stale = counts[:4]
        out.append(
            WriteOutcome(inserted, replaced, unchanged, stale, refusals=mine, refused=len(mine))
        )
        start += size
    return out


def _usable_vectors(
    frame: pd.DataFrame,
    given: Sequence[np.ndarray | None],
    dim: int,
    refusals: list[Refusal],
) -> np.ndarray | None:
    """Which rows' given embeddings (a record restored from a Scan keeps its own) can be
    used: of the org's dimension and of a finite, non-zero norm; the others' records are
    refused (appended to ``refusals``). None when every row's can (or none carries one)."""
    bad: list[int] = []
    for i, vec in enumerate(given):
        if vec is None or len(vec) == 0:
            continue
        if len(vec) != dim:
            why = f"embedding has {len(vec)} dimensions; this org's have {dim}"
        else:
            norm = float(np.linalg.norm(vec))
            if np.isfinite(norm) and norm != 0.0:
                continue
            why = "embedding must be finite and non-zero"
        bad.append(i)
        refusals.append(Refusal(i, str(frame["id"].iat[i]), "embedding_vector", why))
    if not bad:
        return None
    usable = np.ones(len(frame), dtype=bool)
    usable[bad] = False
    return usable


def _use_given(vectors: np.ndarray, given: list[np.ndarray | None]) -> None:
    """Rows whose record carries its embedding keep it, normalised (checked usable by
    :func:`_usable_vectors`)."""
    for row, vec in enumerate(given):
        if vec is not None and len(vec):
            vectors[row] = np.asarray(vec, dtype=np.float32) / float(np.linalg.norm(vec))


# The numbers the measures table keeps per record (what attribution sums by geo, day, channel).
MEASURES = ("spend", "impressions", "conversions", "revenue")


def _other_numbers(frame: pd.DataFrame, i: int, stored: ExistingRecord) -> str | None:
    """Why row ``i``, of the stored record's version, cannot be taken as that record again:
    its numbers differ (None when they match, or the store did not read them). Two writers
    that gave one version other content (two exports of one pull time ingested at once) would
    otherwise have the second told "unchanged" while its numbers were dropped."""
    if stored.measures is None:
        return None
    mine = [float(np.nan_to_num(frame[c].iat[i])) if c in frame else 0.0 for c in MEASURES]
    differ = ", ".join(
        f"{c} {b:g} stored, {a:g} sent"
        for c, a, b in zip(MEASURES, mine, stored.measures, strict=True)
        if not np.isclose(a, b, rtol=1e-12, atol=0.0)
    )
    if not differ:
        return None
    return (
        f"a record of natural_key {shown(stored.natural_key, 120)} is already stored at version "
        f"{stored.version} with other numbers ({differ}); a record's content changes only "
        "with a higher version: not written"
    )


def record_days(rows: pd.DataFrame) -> np.ndarray:
    """The local date as days since 1970-01-01 (the timestamp's UTC date where it is unset)."""
    local = pd.to_datetime(rows["local_date"]).to_numpy("datetime64[D]")
    utc = _micros(rows).astype("datetime64[us]").astype("datetime64[D]")
    return np.where(np.isnat(local), utc, local).astype(np.int64)


def _micros(rows: pd.DataFrame) -> np.ndarray:
    """The timestamp column as int64 µs since the epoch (UTC)."""
    stamps = pd.to_datetime(rows["timestamp"], utc=True)
    return stamps.dt.as_unit("us").to_numpy("datetime64[us]").view(np.int64)


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
