"""The record of truth: the ``RecordStore`` interface and its SQLite implementation.

Layout (one database for all orgs; every statement is scoped by ``org_id``):

* ``records`` — one narrow row per current record: the columns Scan/Search filter on, the
  record's knowledge-graph node list, and ``seq``, a store-wide sequence number given to
  every stored version (never reused). ``seq`` is also the record's id in the FAISS index.
* ``payloads`` / ``vectors`` — the serialised record (opaque bytes, never parsed here) and
  its float32 embedding, in their own tables so filter scans read narrow rows only.
* ``record_regions`` — (org, "space/region", seq) for conceptual-region filters.
* ``history`` — every replaced version with its payload (restatements are kept, not lost).
* ``graph_nodes`` / ``graph_edges`` — knowledge-graph counts, updated in the same transaction.
* identity — which stored record has a given id or natural key — is answered by per-org
  in-memory key maps (``memory_svc.keymap``) built from ``records`` on an org's first write
  after start, not by SQL indexes (each random key costs a WAL page per record written);
  every candidate they give is confirmed against its row.
* ``orgs`` — per-org count, XOR checksum of ``splitmix64(seq)`` over current records, last
  seq, and the embedder the org was embedded with. The derived FAISS index is verified
  against (count, checksum) on start.

Durability: WAL with ``synchronous=FULL`` — each commit fsyncs the WAL, so an acknowledged
write survives a process kill and a power cut (NORMAL would survive the kill only).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from memory_svc.graph import GraphDelta, GraphEdgeRow, GraphNodeRow
from memory_svc.keymap import KeyMap, key_hashes
from mesh.sqlite_db import connect_durable

__all__ = [
    "CommitBatch",
    "CommitResult",
    "ExistingRecord",
    "HitRow",
    "OrgState",
    "RecordFilter",
    "RecordStore",
    "SQLiteRecordStore",
    "ScanRow",
    "seq_checksum",
]

_CHUNK = 900  # bound parameters per IN (...) list


def _splitmix64(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def seq_checksum(seqs: np.ndarray) -> int:
    """Order-free checksum of a set of seqs (XOR of splitmix64), as a signed int64."""
    if len(seqs) == 0:
        return 0
    with np.errstate(over="ignore"):
        h = np.bitwise_xor.reduce(_splitmix64(np.asarray(seqs, dtype=np.int64)))
    return int(np.array([h], dtype=np.uint64).view(np.int64)[0])


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Exact metadata filter; empty fields match everything. Times are µs since the epoch."""

    start_us: int | None = None
    end_us: int | None = None
    sources: tuple[str, ...] = ()
    campaign_ids: tuple[str, ...] = ()
    experiment_id: str = ""
    treatment_groups: tuple[str, ...] = ()
    geos: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    region: str = ""
    min_quality: float | None = None

    def is_empty(self) -> bool:
        return self == RecordFilter()


@dataclass(frozen=True, slots=True)
class OrgState:
    """What the store holds for one org."""

    org_id: str
    record_count: int
    checksum: int
    max_seq: int
    embedder: str
    dim: int


@dataclass(frozen=True, slots=True)
class ExistingRecord:
    """A stored record's identity, as needed to decide insert / replace / stale."""

    seq: int
    id: str
    natural_key: str
    version: int
    graph_nodes: tuple[str, ...]


@dataclass(slots=True)
class CommitBatch:
    """Records to store for one org (columnar; all lists the same length)."""

    org_id: str
    embedder: str
    dim: int
    ids: list[str]
    natural_keys: list[str]
    versions: list[int]
    timestamps_us: list[int]
    sources: list[str]
    campaign_ids: list[str]
    campaign_names: list[str]
    channels: list[str]
    geos: list[str]
    experiment_ids: list[str]
    treatment_groups: list[str]
    qualities: list[float]
    primary_regions: list[str]
    regions: list[tuple[str, ...]]
    graph_nodes: list[list[str]]
    payloads: list[bytes]
    embeddings: np.ndarray  # (n, dim) float32
    replaces: list[ExistingRecord | None]
    graph: GraphDelta
    now_us: int


@dataclass(frozen=True, slots=True)
class CommitResult:
    """Seqs given to the new records, seqs withdrawn, and the org's state after commit."""

    seqs: np.ndarray
    removed_seqs: np.ndarray
    state: OrgState


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One scanned record."""

    seq: int
    timestamp_us: int
    id: str
    payload: bytes
    embedding: bytes | None


@dataclass(frozen=True, slots=True)
class HitRow:
    """A search hit's record id and, when asked, payload."""

    seq: int
    id: str
    payload: bytes | None


class RecordStore(Protocol):
    """Storage the memory engine needs; SQLite here, PostgreSQL later."""

    def org_state(self, org_id: str) -> OrgState | None: ...
    def orgs(self) -> list[str]: ...
    def existing(
        self, org_id: str, ids: Sequence[str], natural_keys: Sequence[str]
    ) -> list[ExistingRecord]: ...
    def commit(self, batch: CommitBatch) -> CommitResult: ...
    def scan_page(
        self,
        org_id: str,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
    ) -> list[ScanRow]: ...
    def candidates(self, org_id: str, flt: RecordFilter, limit: int | None) -> np.ndarray: ...
    def matching(self, org_id: str, seqs: np.ndarray, flt: RecordFilter) -> np.ndarray: ...
    def vectors(self, seqs: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]: ...
    def iter_vectors(
        self, org_id: str, dim: int, after_seq: int, page: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...
    def removed_since(self, org_id: str, seq: int) -> np.ndarray: ...
    def hits(self, org_id: str, seqs: Sequence[int], with_payload: bool) -> dict[int, HitRow]: ...
    def iter_record_ids(self, org_id: str, page: int) -> Iterator[tuple[np.ndarray, list[str]]]: ...
    def present_nodes(self, org_id: str, node_ids: Sequence[str]) -> set[str]: ...
    def graph(self, org_id: str) -> tuple[list[GraphNodeRow], list[GraphEdgeRow]]: ...
    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    org_id TEXT PRIMARY KEY, record_count INTEGER NOT NULL, checksum INTEGER NOT NULL,
    max_seq INTEGER NOT NULL, embedder TEXT NOT NULL, dim INTEGER NOT NULL,
    created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, org_id TEXT NOT NULL, id TEXT NOT NULL,
    natural_key TEXT NOT NULL, version INTEGER NOT NULL, timestamp_us INTEGER NOT NULL,
    source TEXT NOT NULL, campaign_id TEXT NOT NULL, campaign_name TEXT NOT NULL,
    channel TEXT NOT NULL, geo TEXT NOT NULL, experiment_id TEXT NOT NULL,
    treatment_group TEXT NOT NULL, quality REAL NOT NULL, conceptual_space TEXT NOT NULL,
    graph_nodes TEXT NOT NULL, written_us INTEGER NOT NULL
);
-- Identity (org, id) and (org, natural_key) lookups are memory_svc.keymap maps, not indexes:
-- random keys cost a WAL page per record each (see keymap's docstring). Dropped if present.
DROP INDEX IF EXISTS records_id;
DROP INDEX IF EXISTS records_nk;
CREATE INDEX IF NOT EXISTS records_time ON records (org_id, timestamp_us, id);
-- campaign (+ time window: ingestion's history reads) is the most common selective filter.
-- Not (campaign, geo): a batch adds a row to each of its (campaign, geo) series, one index
-- leaf written per series; in time order new rows append at the end of their campaign's
-- range instead (measured: -3 µs CPU per record written). A geo filter reads the rows.
DROP INDEX IF EXISTS records_campaign_geo;
CREATE INDEX IF NOT EXISTS records_campaign_time ON records (org_id, campaign_id, timestamp_us);
CREATE INDEX IF NOT EXISTS records_experiment ON records (org_id, experiment_id, treatment_group)
    WHERE experiment_id != '';
CREATE INDEX IF NOT EXISTS records_seq ON records (org_id, seq);
CREATE TABLE IF NOT EXISTS payloads (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (seq INTEGER PRIMARY KEY, embedding BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS record_regions (
    org_id TEXT NOT NULL, region TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (org_id, region, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    org_id TEXT NOT NULL, id TEXT NOT NULL, natural_key TEXT NOT NULL, version INTEGER NOT NULL,
    seq INTEGER NOT NULL, replaced_at_seq INTEGER NOT NULL, replaced_by_id TEXT NOT NULL,
    replaced_us INTEGER NOT NULL, payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_seq ON history (org_id, replaced_at_seq);
CREATE INDEX IF NOT EXISTS history_by_key ON history (org_id, natural_key, version);
CREATE TABLE IF NOT EXISTS graph_nodes (
    org_id TEXT NOT NULL, node_id TEXT NOT NULL, type TEXT NOT NULL, label TEXT NOT NULL,
    properties TEXT NOT NULL, record_count INTEGER NOT NULL, PRIMARY KEY (org_id, node_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph_edges (
    org_id TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, type TEXT NOT NULL,
    weight INTEGER NOT NULL, PRIMARY KEY (org_id, source, target, type)
) WITHOUT ROWID;
"""


def _chunks(values: Sequence[object], size: int = _CHUNK) -> Iterator[Sequence[object]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _where(org_id: str, flt: RecordFilter) -> tuple[str, list[object]]:
    """SQL conditions on ``records r`` for an org and filter."""
    clauses = ["r.org_id = ?"]
    params: list[object] = [org_id]
    if flt.start_us is not None:
        clauses.append("r.timestamp_us >= ?")
        params.append(flt.start_us)
    if flt.end_us is not None:
        clauses.append("r.timestamp_us < ?")
        params.append(flt.end_us)
    for column, values in (
        ("source", flt.sources),
        ("campaign_id", flt.campaign_ids),
        ("treatment_group", flt.treatment_groups),
        ("geo", flt.geos),
        ("channel", flt.channels),
    ):
        if values:
            clauses.append(f"r.{column} IN ({_marks(len(values))})")
            params.extend(values)
    if flt.experiment_id:
        clauses.append("r.experiment_id = ?")
        params.append(flt.experiment_id)
    if flt.min_quality is not None:
        clauses.append("r.quality >= ?")
        params.append(flt.min_quality)
    if flt.region:
        clauses.append("r.seq IN (SELECT seq FROM record_regions WHERE org_id = ? AND region = ?)")
        params.extend([org_id, flt.region])
    return " AND ".join(clauses), params


def scan_sql(
    org_id: str,
    flt: RecordFilter,
    after: tuple[int, str] | None,
    limit: int,
    with_embeddings: bool,
) -> tuple[str, list[object]]:
    """The query for one page of a scan, in (timestamp, id) order after the cursor ``after``.

    A page's keys are chosen (and sorted) first, then only its own payloads are read: a join
    before the LIMIT sorted the payload of every remaining match on every page (a paged
    20-campaign scan of 36k records: 1.45 → 0.41 s on 1M records). A campaign filter reads
    through the campaign index. Without statistics (a new database) SQLite preferred the time
    index, whose order saves the sort but which reads every record in the window: a series'
    77-record history took 0.27 s instead of 2 ms, and ingestion's history scans of a 1M-row
    ingest cost memory 10 s of CPU.
    """
    where, params = _where(org_id, flt)
    if after is not None:
        where += " AND (r.timestamp_us, r.id) > (?, ?)"
        params.extend(after)
    emb = ", v.embedding" if with_embeddings else ", NULL"
    join = " JOIN vectors v ON v.seq = r.seq" if with_embeddings else ""
    use = " INDEXED BY records_campaign_time" if flt.campaign_ids else ""
    sql = (
        f"SELECT r.seq, r.timestamp_us, r.id, p.payload{emb} FROM ("
        f"SELECT r.seq, r.timestamp_us, r.id FROM records r{use} WHERE {where} "
        "ORDER BY r.timestamp_us, r.id LIMIT ?"
        f") r JOIN payloads p ON p.seq = r.seq{join} ORDER BY r.timestamp_us, r.id"
    )
    return sql, [*params, limit]


# The writer leaves checkpoints to a background thread (below); past this many WAL bytes it
# checkpoints itself, so the WAL stays bounded should that thread fall behind.
_WAL_BACKSTOP_BYTES = 256 << 20
CHECKPOINT_INTERVAL_S = 0.5


# Page size of a new database (an existing file keeps its own: in WAL mode it cannot change).
# Measured on 400k ingest records against 4,096: rows pack tighter (1,024-byte vectors fit 3
# to a 4 KB page, 7 to 8 KB; payloads likewise), 3,531 → 3,163 B per record on disk, and
# fewer, larger WAL frames cost less CPU per byte: commit CPU 32.3 → 28.7 µs per record,
# checkpoints included. 16 KB saved little more and wrote ~25% more WAL at 1.2M records,
# where a batch touched one leaf per (campaign, geo) of the index then on (campaign, geo).
PAGE_SIZE = 8192


def _create(path: Path) -> None:
    """Give a new database file its page size, which must be set before WAL mode is (the
    durable connection turns WAL on first thing)."""
    if path.exists() and path.stat().st_size > 0:
        return
    db = sqlite3.connect(path)
    try:
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()


# Page cache of each reader thread's connection (the writer's is 64 MiB). Scans read in
# order and mostly once, and up to one reader per worker thread serves them at once.
_READER_CACHE_KIB = 16 * 1024


def _connect(path: Path) -> sqlite3.Connection:
    db = connect_durable(path)
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("PRAGMA cache_size=-65536")
    return db


class SQLiteRecordStore:
    """SQLite implementation of :class:`RecordStore`: one writer, thread-local readers, and a
    checkpointer thread.

    Checkpoints (copying WAL pages into the database file, then fsyncing it) run on their own
    thread and connection every ``CHECKPOINT_INTERVAL_S``, off the write path: with SQLite's
    default of a checkpoint inside any commit that takes the WAL past 1,000 pages, nearly every
    1,000-record Write paid for one (half of all commit time at 400k records); a page changed
    by several commits between two checkpoints is also copied once.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        _create(path)
        self._writer = _connect(path)
        self._writer.executescript(_SCHEMA)
        page = self._writer.execute("PRAGMA page_size").fetchone()[0]
        self._writer.execute(f"PRAGMA wal_autocheckpoint={_WAL_BACKSTOP_BYTES // page}")
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        # org → (id map, natural-key map), loaded on the org's first write after start
        self._keys: dict[str, tuple[KeyMap, KeyMap]] = {}
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoints(self) -> None:
        db = _connect(self._path)
        try:
            while not self._closing.wait(CHECKPOINT_INTERVAL_S):
                # PASSIVE: never blocks the writer or readers; pages a reader still needs
                # wait for the next round.
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            db.close()

    def _key_maps(self, org_id: str) -> tuple[KeyMap, KeyMap]:
        """The org's identity maps (call under the write lock); built from the records the
        first time, a page at a time."""
        maps = self._keys.get(org_id)
        if maps is None:
            by_id, by_key = KeyMap(), KeyMap()
            last = -1
            while True:
                rows = self._writer.execute(
                    "SELECT seq, id, natural_key FROM records WHERE org_id = ? AND seq > ? "
                    "ORDER BY seq LIMIT 100000",
                    (org_id, last),
                ).fetchall()
                if not rows:
                    break
                seqs = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                by_id.add(key_hashes(r[1] for r in rows), seqs)
                keyed = [(s, r[2]) for s, r in zip(seqs.tolist(), rows, strict=True) if r[2]]
                by_key.add(
                    key_hashes(k for _, k in keyed),
                    np.fromiter((s for s, _ in keyed), np.int64, len(keyed)),
                )
                last = int(seqs[-1])
            maps = self._keys[org_id] = (by_id, by_key)
        return maps

    def _read(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = _connect(self._path)
            db.execute("PRAGMA query_only=ON")
            db.execute(f"PRAGMA cache_size=-{_READER_CACHE_KIB}")
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join()
        with self._write_lock:
            self._writer.execute("PRAGMA optimize")
            self._writer.close()
        with self._readers_lock:
            for db in self._readers:
                db.close()
            self._readers.clear()

    # ------------------------------------------------------------------ reads

    def org_state(self, org_id: str) -> OrgState | None:
        row = (
            self._read()
            .execute(
                "SELECT org_id, record_count, checksum, max_seq, embedder, dim FROM orgs "
                "WHERE org_id = ?",
                (org_id,),
            )
            .fetchone()
        )
        return OrgState(*row) if row else None

    def orgs(self) -> list[str]:
        return [r[0] for r in self._read().execute("SELECT org_id FROM orgs ORDER BY org_id")]

    def existing(
        self, org_id: str, ids: Sequence[str], natural_keys: Sequence[str]
    ) -> list[ExistingRecord]:
        """Stored records with one of ``ids`` or (non-empty) ``natural_keys``: candidates from
        the org's key maps, each confirmed against its row."""
        want_ids = set(ids)
        want_keys = {k for k in natural_keys if k}
        with self._write_lock:
            by_id, by_key = self._key_maps(org_id)
            cand = np.union1d(
                by_id.candidates(key_hashes(want_ids)), by_key.candidates(key_hashes(want_keys))
            )
            found: list[ExistingRecord] = []
            for part in _chunks(cand.tolist()):
                for row in self._writer.execute(
                    "SELECT seq, id, natural_key, version, graph_nodes FROM records "
                    f"WHERE org_id = ? AND seq IN ({_marks(len(part))})",
                    (org_id, *part),
                ):
                    if row[1] in want_ids or (row[2] and row[2] in want_keys):
                        found.append(_existing(row))
        return found

    def scan_page(
        self,
        org_id: str,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
    ) -> list[ScanRow]:
        sql, params = scan_sql(org_id, flt, after, limit, with_embeddings)
        return [ScanRow(*row) for row in self._read().execute(sql, params)]

    def candidates(self, org_id: str, flt: RecordFilter, limit: int | None) -> np.ndarray:
        where, params = _where(org_id, flt)
        sql = f"SELECT r.seq FROM records r WHERE {where}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._read().execute(sql, params).fetchall()
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def matching(self, org_id: str, seqs: np.ndarray, flt: RecordFilter) -> np.ndarray:
        where, params = _where(org_id, flt)
        out: list[int] = []
        db = self._read()
        for part in _chunks(np.asarray(seqs).tolist()):
            out.extend(
                r[0]
                for r in db.execute(
                    f"SELECT r.seq FROM records r WHERE {where} AND r.seq IN ({_marks(len(part))})",
                    (*params, *part),
                )
            )
        return np.array(out, dtype=np.int64)

    def vectors(self, seqs: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
        got: list[int] = []
        blobs: list[bytes] = []
        db = self._read()
        for part in _chunks(np.asarray(seqs).tolist(), 30_000):
            for seq, blob in db.execute(
                f"SELECT seq, embedding FROM vectors WHERE seq IN ({_marks(len(part))})", part
            ):
                got.append(seq)
                blobs.append(blob)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(got), dim)
        return np.array(got, dtype=np.int64), matrix

    def iter_vectors(
        self, org_id: str, dim: int, after_seq: int, page: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        db = self._read()
        last = after_seq
        while True:
            rows = db.execute(
                "SELECT r.seq, v.embedding FROM records r JOIN vectors v ON v.seq = r.seq "
                "WHERE r.org_id = ? AND r.seq > ? ORDER BY r.seq LIMIT ?",
                (org_id, last, page),
            ).fetchall()
            if not rows:
                return
            seqs = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield seqs, matrix.reshape(len(rows), dim)
            last = int(seqs[-1])

    def removed_since(self, org_id: str, seq: int) -> np.ndarray:
        rows = (
            self._read()
            .execute(
                "SELECT seq FROM history WHERE org_id = ? AND replaced_at_seq > ?", (org_id, seq)
            )
            .fetchall()
        )
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def hits(self, org_id: str, seqs: Sequence[int], with_payload: bool) -> dict[int, HitRow]:
        if not seqs:
            return {}
        db = self._read()
        out: dict[int, HitRow] = {}
        for part in _chunks(list(seqs)):
            if with_payload:
                sql = (
                    "SELECT r.seq, r.id, p.payload FROM records r JOIN payloads p "
                    f"ON p.seq = r.seq WHERE r.org_id = ? AND r.seq IN ({_marks(len(part))})"
                )
            else:
                sql = (
                    "SELECT r.seq, r.id, NULL FROM records r "
                    f"WHERE r.org_id = ? AND r.seq IN ({_marks(len(part))})"
                )
            for row in db.execute(sql, (org_id, *part)):
                out[row[0]] = HitRow(*row)
        return out

    def iter_record_ids(
        self, org_id: str, page: int = 100_000
    ) -> Iterator[tuple[np.ndarray, list[str]]]:
        """(seqs, ids) of the org's current records, page by page in seq order."""
        db = self._read()
        last = -1
        while True:
            rows = db.execute(
                "SELECT seq, id FROM records WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (org_id, last, page),
            ).fetchall()
            if not rows:
                return
            seqs = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            yield seqs, [r[1] for r in rows]
            last = int(seqs[-1])

    def present_nodes(self, org_id: str, node_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        db = self._read()
        for part in _chunks(list(node_ids)):
            found.update(
                r[0]
                for r in db.execute(
                    "SELECT node_id FROM graph_nodes WHERE org_id = ? AND record_count > 0 "
                    f"AND node_id IN ({_marks(len(part))})",
                    (org_id, *part),
                )
            )
        return found

    def graph(self, org_id: str) -> tuple[list[GraphNodeRow], list[GraphEdgeRow]]:
        db = self._read()
        nodes = [
            GraphNodeRow(n, t, label, count, json.loads(props))
            for n, t, label, props, count in db.execute(
                "SELECT node_id, type, label, properties, record_count FROM graph_nodes "
                "WHERE org_id = ? AND record_count > 0",
                (org_id,),
            )
        ]
        edges = [
            GraphEdgeRow(*row)
            for row in db.execute(
                "SELECT source, target, type, weight FROM graph_edges "
                "WHERE org_id = ? AND weight > 0",
                (org_id,),
            )
        ]
        return nodes, edges

    def history(self, org_id: str, natural_key: str) -> list[tuple[str, int, int]]:
        """(id, version, replaced_at_seq) of the replaced versions of a natural key."""
        return [
            tuple(r)
            for r in self._read().execute(
                "SELECT id, version, replaced_at_seq FROM history "
                "WHERE org_id = ? AND natural_key = ? ORDER BY version",
                (org_id, natural_key),
            )
        ]

    # ------------------------------------------------------------------ write

    def commit(self, batch: CommitBatch) -> CommitResult:
        n = len(batch.ids)
        with self._write_lock:
            by_id, by_key = self._key_maps(batch.org_id)  # loaded before this batch commits
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                result = self._commit(db, batch, n)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            by_id.withdraw(result.removed_seqs)
            by_key.withdraw(result.removed_seqs)
            by_id.add(key_hashes(batch.ids), result.seqs)
            keyed = [i for i, k in enumerate(batch.natural_keys) if k]
            by_key.add(key_hashes(batch.natural_keys[i] for i in keyed), result.seqs[keyed])
        return result

    def _commit(self, db: sqlite3.Connection, b: CommitBatch, n: int) -> CommitResult:
        row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        first = row[0] if row else 1
        seqs = np.arange(first, first + n, dtype=np.int64)
        seq_list = seqs.tolist()
        replaced = [(s, old) for s, old in zip(seq_list, b.replaces, strict=True) if old]
        removed = np.array([old.seq for _, old in replaced], dtype=np.int64)
        if replaced:
            db.executemany(
                "INSERT INTO history SELECT r.org_id, r.id, r.natural_key, r.version, r.seq, "
                "?, ?, ?, p.payload FROM records r JOIN payloads p ON p.seq = r.seq "
                "WHERE r.seq = ?",
                [
                    (s, b.ids[i], b.now_us, old.seq)
                    for i, (s, old) in enumerate(zip(seq_list, b.replaces, strict=True))
                    if old
                ],
            )
            old_seqs = [(int(s),) for s in removed]
            for table in ("records", "payloads", "vectors"):
                db.executemany(f"DELETE FROM {table} WHERE seq = ?", old_seqs)
            db.executemany(
                "DELETE FROM record_regions WHERE org_id = ? AND region = ? AND seq = ?",
                [
                    (b.org_id, node.removeprefix("region:"), old.seq)
                    for _, old in replaced
                    for node in old.graph_nodes
                    if node.startswith("region:")
                ],
            )
        db.executemany(
            "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            zip(
                seq_list,
                [b.org_id] * n,
                b.ids,
                b.natural_keys,
                b.versions,
                b.timestamps_us,
                b.sources,
                b.campaign_ids,
                b.campaign_names,
                b.channels,
                b.geos,
                b.experiment_ids,
                b.treatment_groups,
                b.qualities,
                b.primary_regions,
                ["\n".join(nodes) for nodes in b.graph_nodes],
                [b.now_us] * n,
                strict=True,
            ),
        )
        db.executemany("INSERT INTO payloads VALUES (?, ?)", zip(seq_list, b.payloads, strict=True))
        # each row of a C-contiguous float32 matrix binds as its 4·dim bytes, without a copy
        emb = np.ascontiguousarray(b.embeddings, dtype=np.float32)
        db.executemany("INSERT INTO vectors VALUES (?, ?)", zip(seq_list, emb, strict=True))
        db.executemany(
            "INSERT INTO record_regions VALUES (?, ?, ?)",
            (
                (b.org_id, region, s)
                for s, regions in zip(seq_list, b.regions, strict=True)
                for region in regions
            ),
        )
        self._apply_graph(db, b.org_id, b.graph)
        state = self._update_org(db, b, seqs, removed, n - len(replaced))
        db.execute(
            "INSERT INTO meta VALUES ('next_seq', ?) ON CONFLICT(key) DO UPDATE SET value = ?",
            (first + n, first + n),
        )
        return CommitResult(seqs, removed, state)

    def _update_org(
        self,
        db: sqlite3.Connection,
        b: CommitBatch,
        seqs: np.ndarray,
        removed: np.ndarray,
        added: int,
    ) -> OrgState:
        row = db.execute(
            "SELECT record_count, checksum FROM orgs WHERE org_id = ?", (b.org_id,)
        ).fetchone()
        count, checksum = row if row else (0, 0)
        checksum = checksum ^ seq_checksum(seqs) ^ seq_checksum(removed)
        max_seq = int(seqs[-1]) if len(seqs) else 0
        db.execute(
            "INSERT INTO orgs VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(org_id) DO UPDATE SET "
            "record_count = excluded.record_count, checksum = excluded.checksum, "
            "max_seq = excluded.max_seq, updated_us = excluded.updated_us",
            (b.org_id, count + added, checksum, max_seq, b.embedder, b.dim, b.now_us, b.now_us),
        )
        state = db.execute(
            "SELECT org_id, record_count, checksum, max_seq, embedder, dim FROM orgs "
            "WHERE org_id = ?",
            (b.org_id,),
        ).fetchone()
        return OrgState(*state)

    @staticmethod
    def _apply_graph(db: sqlite3.Connection, org_id: str, delta: GraphDelta) -> None:
        ups, downs = [], []
        for node, d in delta.nodes.items():
            if d > 0:
                kind, label, props = delta.labels[node]
                ups.append((org_id, node, kind, label, json.dumps(props, sort_keys=True), d))
            elif d < 0:
                downs.append((d, org_id, node))
        db.executemany(
            "INSERT INTO graph_nodes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(org_id, node_id) "
            "DO UPDATE SET record_count = record_count + excluded.record_count, "
            "label = excluded.label, properties = excluded.properties",
            ups,
        )
        db.executemany(
            "UPDATE graph_nodes SET record_count = record_count + ? "
            "WHERE org_id = ? AND node_id = ?",
            downs,
        )
        if downs:
            db.executemany(
                "DELETE FROM graph_nodes WHERE org_id = ? AND node_id = ? AND record_count <= 0",
                [(org_id, node) for _, _, node in downs],
            )
        db.executemany(
            "INSERT INTO graph_edges VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(org_id, source, target, type) DO UPDATE SET weight = weight + excluded.weight",
            [(org_id, s, t, k, d) for (s, t, k), d in delta.edges.items() if d != 0],
        )
        gone = [(org_id, s, t, k) for (s, t, k), d in delta.edges.items() if d < 0]
        if gone:
            db.executemany(
                "DELETE FROM graph_edges WHERE org_id = ? AND source = ? AND target = ? "
                "AND type = ? AND weight <= 0",
                gone,
            )


def _existing(row: tuple[int, str, str, int, str]) -> ExistingRecord:
    seq, rid, nk, version, nodes = row
    return ExistingRecord(seq, rid, nk, version, tuple(nodes.split("\n")) if nodes else ())
