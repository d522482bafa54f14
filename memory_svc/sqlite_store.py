"""The record of truth: :class:`SQLiteRecordStore`, the SQLite ``RecordStore``.

The layout and the queries are in ``memory_svc.store_sql``, one commit's statements in
``memory_svc.sqlite_commit``. Durability: WAL with ``synchronous=FULL`` — each commit fsyncs
the WAL, so an acknowledged write survives a process kill and a power cut (NORMAL would
survive the kill only).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memory_svc.accounts import DecodeAccounts
from memory_svc.campaign_geo import SPEND_ROWS, HeldSpend, SpendCells
from memory_svc.campaign_geo import Row as SpendRow
from memory_svc.errors import SchemaTooNew
from memory_svc.graph import GraphEdgeRow, GraphNodeRow
from memory_svc.graph_sql import SQLITE, GraphReads
from memory_svc.key_seqs import KeyMap, key_hashes
from memory_svc.org_sums import SumsTable, aggregate_from, with_campaign_names
from memory_svc.product_table import ProductAggregate, aggregate_sql, record_count_sql
from memory_svc.sqlite_checkpoint import Checkpointer
from memory_svc.sqlite_commit import SumsLog, insert_batch
from memory_svc.sqlite_delete import SQLiteAccounts
from memory_svc.sqlite_erase import ErasureClearer
from memory_svc.sqlite_scan import SQLiteScans, scan_page
from memory_svc.sqlite_upgrade import (
    fill_accounts,
    fill_from_payloads,
    fill_measures,
    fill_skus,
    in_transaction,
    mark_filled,
    open_schema,
    rebuild_sums,
)
from memory_svc.store import (
    Aggregate,
    CampaignGeoDays,
    CommitBatch,
    CommitResult,
    ExistingRecord,
    HitRow,
    OrgState,
    ReadTransaction,
    RecordFilter,
    ScanRow,
    existing_record,
)
from memory_svc.store_sql import (
    CAMPAIGN_DAY_ROWS,
    CAMPAIGN_NAMES,
    CURRENCY_DAY_ROWS,
    GEO_DAY_ROWS,
    SUMS_TABLES,
    chunks,
    filter_sql,
    marks,
)
from memory_svc.unreported import with_unreported
from mesh.runtime.sqlite_db import ERASE_VACUUM_BYTES, connect_durable, sqlite_files
from mesh.runtime.storage import check_writable

__all__ = ["CHECKPOINT_INTERVAL_S", "PAGE_SIZE", "SQLiteRecordStore"]

# The writer leaves checkpoints to a background thread (below); past this many WAL bytes it
# checkpoints itself, so the WAL stays bounded should that thread fall behind.
_WAL_BACKSTOP_BYTES = 256 << 20
CHECKPOINT_INTERVAL_S = 0.5

# Page size of a new database (an existing file keeps its own: in WAL mode it cannot change):
# rows pack tighter than at 4,096 and fewer, larger WAL frames cost less CPU per byte.
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


# Bytes of sums (memory_svc.org_sums) kept across orgs, least recently read evicted first; the
# last org read is always kept. A row is ~64 bytes of arrays: a year of 50 geos is ~135k rows.
SUMS_CACHE_BYTES = 64 << 20

# Bytes of identity maps (memory_svc.key_seqs: 16 a key, two keys a record) kept across orgs,
# least recently written evicted first (rebuilt from the records on the org's next write);
# the org being written always keeps its own.
KEY_MAPS_BYTES = 512 << 20

# Changed sums rows a held org may collect before it is dropped instead (beyond its own size).
_PENDING_ROWS = 200_000

# (record_count, checksum, max_seq): changes with every commit that changes the org's records
DataVersion = tuple[int, int, int]
_VERSION = "SELECT record_count, checksum, max_seq FROM orgs WHERE org_id = ?"


@dataclass(slots=True)
class _HeldSums:
    """An org's sums as arrays at ``version``, and the sums rows commits changed since, per
    table, to apply at the next read (mutated under the store's sums lock)."""

    version: DataVersion
    geo: SumsTable
    campaign: SumsTable
    currency: SumsTable
    pending: SumsLog = field(default_factory=dict)

    @property
    def tables(self) -> tuple[SumsTable, SumsTable, SumsTable]:
        return self.geo, self.campaign, self.currency

    @property
    def n_rows(self) -> int:
        return sum(t.n_rows for t in self.tables)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tables)


# Page cache of each reader thread's connection (the writer's is 64 MiB). Scans read in
# order and mostly once, and up to one reader per worker thread serves them at once.
_READER_CACHE_KIB = 16 * 1024

# What a caller of a write that hit a full disk lost (mesh.runtime.storage); re-sending the
# batch is safe: its records are stored once (those already stored count as unchanged).
_LOST = "the batch was not stored — retry it"


def _connect(path: Path, cache_kib: int = 65536, *, reader: bool = False) -> sqlite3.Connection:
    db = connect_durable(path, owner="memory", lost=_LOST)
    # Deleted content is overwritten with zeros whatever the host's SQLite build defaults
    # to (SQLite's own default leaves it in free space): a DeleteRecords is an erasure.
    db.execute("PRAGMA secure_delete=ON")
    db.execute("PRAGMA busy_timeout=10000")
    db.execute(f"PRAGMA cache_size=-{cache_kib}")
    if reader:
        db.execute("PRAGMA query_only=ON")
    return db


class SQLiteRecordStore(SQLiteAccounts):
    """SQLite implementation of :class:`RecordStore`: one writer, thread-local readers, and a
    checkpointer thread; an org's accounts and deletions are ``memory_svc.sqlite_delete``'s.

    Checkpoints (copying WAL pages into the database file, then fsyncing it) run on their own
    thread and connection every ``CHECKPOINT_INTERVAL_S`` (``memory_svc.sqlite_checkpoint``).
    """

    def __init__(
        self,
        path: Path,
        *,
        sums_cache_bytes: int = SUMS_CACHE_BYTES,
        key_maps_bytes: int = KEY_MAPS_BYTES,
        erase_vacuum_bytes: int = ERASE_VACUUM_BYTES,
        decode_accounts: DecodeAccounts | None = None,
    ) -> None:
        check_writable(path.parent, sqlite_files(path))
        self.sums_cache_bytes = sums_cache_bytes
        self.erase_vacuum_bytes = erase_vacuum_bytes
        # reads the account of a row whose measures.account_id is "" (memory_svc.accounts);
        # None: "" is taken as written
        self.decode_accounts = decode_accounts
        self.key_maps_bytes = key_maps_bytes
        self._path = path
        _create(path)
        self._writer = _connect(path)
        try:
            open_schema(self._writer, path)
        except SchemaTooNew:
            self._writer.close()
            raise
        page = self._writer.execute("PRAGMA page_size").fetchone()[0]
        self._writer.execute(f"PRAGMA wal_autocheckpoint={_WAL_BACKSTOP_BYTES // page}")
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        # org → (id map, natural-key map), loaded on the org's first write after start (again
        # after the budget dropped it), least recently written first
        self._keys: OrderedDict[str, tuple[KeyMap, KeyMap]] = OrderedDict()
        # org → its sums as arrays (see _org_sums), least recently read first
        self._sums: OrderedDict[str, _HeldSums] = OrderedDict()
        self._sums_lock = threading.Lock()
        # org → its records' spend per day × geo × campaign as arrays (see campaign_geo_spend)
        self._spend = HeldSpend(sums_cache_bytes)
        self._graph = GraphReads(SQLITE, lambda sql, params: self._read().execute(sql, params))
        self._scans = SQLiteScans(lambda: _connect(path, _READER_CACHE_KIB, reader=True))
        # a plain connection: its failures are logged by the checkpointer, not as a
        # caller's failed write (mesh.runtime.storage)
        self._checkpointer = Checkpointer(
            lambda: sqlite3.connect(path, check_same_thread=False, isolation_level=None),
            lambda: CHECKPOINT_INTERVAL_S,
            str(path),
        )
        self._clearer = ErasureClearer(
            self._writer, self._write_lock, lambda: self.erase_vacuum_bytes, path.name
        )

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
        self._keys.move_to_end(org_id)
        return maps

    def _bound_key_maps(self) -> None:
        """Drop the least recently written orgs' maps while over ``key_maps_bytes``, never
        the most recent one's (under the write lock)."""
        held = sum(a.nbytes + b.nbytes for a, b in self._keys.values())
        while held > self.key_maps_bytes and len(self._keys) > 1:
            _, (a, b) = self._keys.popitem(last=False)
            held -= a.nbytes + b.nbytes

    def key_maps_held(self) -> dict[str, int]:
        """Bytes of identity maps held per org."""
        with self._write_lock:
            return {org: a.nbytes + b.nbytes for org, (a, b) in self._keys.items()}

    def _read(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = _connect(self._path, _READER_CACHE_KIB, reader=True)
            with self._readers_lock:
                self._readers.append(db)
        return db

    def close(self) -> None:
        self._checkpointer.stop()
        self._scans.close()
        self._clearer.close()  # its last try, with the Scans closed
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
            for part in chunks(cand.tolist()):
                for row in self._writer.execute(
                    "SELECT r.seq, r.id, r.natural_key, r.version, r.graph_nodes, m.spend, "
                    "m.impressions, m.conversions, m.revenue FROM records r "
                    "LEFT JOIN measures m ON m.seq = r.seq "
                    f"WHERE r.org_id = ? AND r.seq IN ({marks(len(part))})",
                    (org_id, *part),
                ):
                    if row[1] in want_ids or (row[2] and row[2] in want_keys):
                        found.append(existing_record(row))
        return found

    def scan_page(
        self,
        org_id: str,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
        *,
        max_bytes: int | None = None,
    ) -> list[ScanRow]:
        return scan_page(self._read(), org_id, flt, after, limit, with_embeddings, max_bytes)

    def read_transaction(self, org_id: str) -> ReadTransaction:
        return self._scans.begin(org_id)

    def candidates(self, org_id: str, flt: RecordFilter, limit: int | None) -> np.ndarray:
        where, params = filter_sql(org_id, flt)
        sql = f"SELECT r.seq FROM records r WHERE {where}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._read().execute(sql, params).fetchall()
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def matching(self, org_id: str, seqs: np.ndarray, flt: RecordFilter) -> np.ndarray:
        where, params = filter_sql(org_id, flt)
        out: list[int] = []
        db = self._read()
        for part in chunks(np.asarray(seqs).tolist()):
            out.extend(
                r[0]
                for r in db.execute(
                    f"SELECT r.seq FROM records r WHERE {where} AND r.seq IN ({marks(len(part))})",
                    (*params, *part),
                )
            )
        return np.array(out, dtype=np.int64)

    def vectors(self, seqs: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
        got: list[int] = []
        blobs: list[bytes] = []
        db = self._read()
        for part in chunks(np.asarray(seqs).tolist(), 30_000):
            for seq, blob in db.execute(
                f"SELECT seq, embedding FROM vectors WHERE seq IN ({marks(len(part))})", part
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
        for part in chunks(list(seqs)):
            if with_payload:
                sql = (
                    "SELECT r.seq, r.id, p.payload FROM records r JOIN payloads p "
                    f"ON p.seq = r.seq WHERE r.org_id = ? AND r.seq IN ({marks(len(part))})"
                )
            else:
                sql = (
                    "SELECT r.seq, r.id, NULL FROM records r "
                    f"WHERE r.org_id = ? AND r.seq IN ({marks(len(part))})"
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
        return self._graph.present(org_id, node_ids)

    def node_names(self, org_id: str, kind: str) -> list[str]:
        return self._graph.names_of_kind(org_id, kind)

    def graph(self, org_id: str) -> tuple[list[GraphNodeRow], list[GraphEdgeRow]]:
        return self._graph.whole(org_id)

    def graph_nodes(self, org_id: str, node_ids: Sequence[str]) -> dict[str, GraphNodeRow]:
        return self._graph.nodes(org_id, node_ids)

    def graph_edges_of(self, org_id: str, node_ids: Sequence[str]) -> list[GraphEdgeRow]:
        return self._graph.edges_of(org_id, node_ids)

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

    def aggregate(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> Aggregate:
        """Sums of the org's current records per day × geo, per day × campaign and per
        currency, from the org's sums rows as arrays (see ``memory_svc.org_sums``)."""
        geo, campaign, currency = self._org_sums(org_id)
        agg = aggregate_from(geo, campaign, start_day, end_day, sources, currency)
        agg = with_unreported(agg, self._read(), org_id, start_day, end_day, sources)
        return with_campaign_names(agg, lambda ids: self.campaign_names(org_id, ids))

    def campaign_names(self, org_id: str, campaign_ids: Sequence[str]) -> dict[str, str]:
        """Each id's name from its latest current record that names one (ids none names: left out)."""
        rows = self._read().execute(CAMPAIGN_NAMES, (org_id, json.dumps(list(campaign_ids))))
        return {str(c): str(n) for c, n in rows if n is not None}

    def campaign_geo_spend(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> CampaignGeoDays:
        """Spend of the org's current records per day × geo × campaign, from its spend rows
        as arrays held per data version (``memory_svc.campaign_geo``) — version and rows
        read in one transaction."""
        db = self._read()
        db.execute("BEGIN")
        try:
            row = db.execute(_VERSION, (org_id,)).fetchone()
            version: DataVersion | None = tuple(row) if row else None  # type: ignore[assignment]
            answer = self._spend.wide(org_id, version, start_day, end_day, sources)
            if answer is not None:
                return answer
            rows = db.execute(SPEND_ROWS.format(mark="?"), (org_id,)).fetchall()
        finally:
            db.execute("COMMIT")
        cells = SpendCells.from_rows(rows)
        if version is not None:
            self._spend.put(org_id, version, cells)
        return cells.wide(start_day, end_day, sources)

    def aggregate_products(
        self, org_id: str, start_day: int | None, end_day: int | None,
        *, spend_only: bool = False,
    ) -> ProductAggregate:  # fmt: skip
        """The org's product sums (``memory_svc.product_table``), in one read transaction."""
        db = self._read()
        db.execute("BEGIN")
        try:
            sales, spend, catalogue = (
                db.execute(*q).fetchall() if q is not None else []
                for q in aggregate_sql(org_id, start_day, end_day, spend_only=spend_only)
            )
            sql, params = record_count_sql(org_id, start_day, end_day, spend_only=spend_only)
            count = db.execute(sql, params).fetchone()[0]
        finally:
            db.execute("COMMIT")
        return ProductAggregate(sales, spend, catalogue, int(count))

    def _org_sums(self, org_id: str) -> tuple[SumsTable, SumsTable, SumsTable]:
        """The org's sums tables as arrays at its current data version: held ones (with the
        sums rows commits changed since applied), else read now — version and rows in one
        read transaction, so no commit lands between them."""
        db = self._read()
        db.execute("BEGIN")
        try:
            row = db.execute(_VERSION, (org_id,)).fetchone()
            version: DataVersion | None = tuple(row) if row else None  # type: ignore[assignment]
            with self._sums_lock:
                held = self._sums.get(org_id)
                if held is not None and held.version == version:
                    self._sums.move_to_end(org_id)
                    pending, held.pending = held.pending, {}
                    if pending:
                        # Applied under the lock: a commit may add to pending meanwhile.
                        held.geo = held.geo.updated(pending.get("geo_day_sums", []))
                        held.campaign = held.campaign.updated(pending.get("campaign_day_sums", []))
                        held.currency = held.currency.updated(pending.get("currency_day_sums", []))
                    return held.geo, held.campaign, held.currency
            rows = [db.execute(sql, (org_id,)).fetchall()
                    for sql in (GEO_DAY_ROWS, CAMPAIGN_DAY_ROWS, CURRENCY_DAY_ROWS)]  # fmt: skip
        finally:
            db.execute("COMMIT")
        geo, campaign, currency = (SumsTable.from_rows(r) for r in rows)
        if version is not None:
            self._hold_sums(org_id, _HeldSums(version, geo, campaign, currency))
        return geo, campaign, currency

    def _hold_sums(self, org_id: str, held: _HeldSums) -> None:
        with self._sums_lock:
            now = self._sums.get(org_id)
            if now is not None and now.version[2] > held.version[2]:
                return  # a commit or a reader of a later version got here first
            self._sums[org_id] = held
            self._sums.move_to_end(org_id)
            self._evict_sums()

    def _evict_sums(self) -> None:
        """Least recently read orgs go past ``sums_cache_bytes`` (under the sums lock)."""
        held = sum(h.nbytes for h in self._sums.values())
        while held > self.sums_cache_bytes and len(self._sums) > 1:
            _, gone = self._sums.popitem(last=False)
            held -= gone.nbytes

    def _note_sums(
        self, org_id: str, before: DataVersion | None, after: DataVersion, log: SumsLog | None
    ) -> None:
        """After a commit: the org's held sums follow it (the rows it changed, applied at
        the next read) if they were at the version it started from; else they go."""
        with self._sums_lock:
            held = self._sums.get(org_id)
            if held is None:
                return
            if log is None or held.version != before:
                del self._sums[org_id]
                return
            held.version = after
            for table, rows in log.items():
                held.pending.setdefault(table, []).extend(rows)
            if sum(len(r) for r in held.pending.values()) > held.n_rows + _PENDING_ROWS:
                del self._sums[org_id]  # reading again costs less than applying them

    def backfill_measures(
        self, decode: Callable[[list[bytes]], list[tuple[int, float, float, float, float, str]]]
    ) -> int:
        """Fill ``measures`` for records stored before the table existed, once, and the sums
        tables from it when they are empty and it is not.

        ``decode`` turns payloads into (day, spend, impressions, conversions, revenue,
        currency) rows;
        records are read and written in pages inside one transaction per page. Returns how
        many records were filled.
        """
        with self._write_lock:
            filled = fill_measures(self._writer, decode)
            self._rebuild_sums(force=filled > 0)
            return filled

    def backfill_currencies(self, decode: Callable[[list[bytes]], list[str]]) -> int:
        """Once per database: fill ``measures.currency`` from the stored payloads for rows
        that have none (a database from before the column: ``add_measures_columns`` gave
        them ""), then recompute ``currency_day_sums`` from ``measures``; marked done in
        ``meta`` (``measures_currency``), so a record that names no currency is not decoded
        again at every start. ``decode`` gives each payload's currency_code. Returns how many
        rows got a currency."""
        with self._write_lock:
            db = self._writer
            if db.execute("SELECT 1 FROM meta WHERE key = 'measures_currency'").fetchone():
                return 0
            filled = fill_from_payloads(
                db,
                "SELECT m.seq, p.payload FROM measures m JOIN payloads p ON p.seq = m.seq "
                "WHERE m.seq > ? AND m.currency = '' ORDER BY m.seq LIMIT 5000",
                "UPDATE measures SET currency = ? WHERE seq = ?",
                decode,
            )
            self._forget_sums()

            def rebuild() -> None:
                rebuild_sums(db, "currency_day_sums", "currency")
                mark_filled(db, "measures_currency")

            in_transaction(db, rebuild)
            return filled

    def backfill_skus(self, decode: Callable[[list[bytes]], list[str]]) -> int:
        """Once per database: the catalogue rows' ``product_records.sku`` from their payloads
        (``sqlite_upgrade.fill_skus``). Returns how many rows got one."""
        with self._write_lock:
            return fill_skus(self._writer, decode)

    def backfill_accounts(self, decode: Callable[[list[bytes]], list[str]]) -> int:
        """Once per database: ``measures.account_id`` of the rows stored before the column,
        from their payloads (``sqlite_upgrade.fill_accounts``). Returns how many rows got
        one."""
        with self._write_lock:
            return fill_accounts(self._writer, decode)

    def _forget_sums(self) -> None:
        with self._sums_lock:
            self._sums.clear()
        self._spend.clear()

    def _rebuild_sums(self, *, force: bool) -> None:
        """Recompute the sums tables from ``measures`` (under the write lock)."""
        db = self._writer
        empty = db.execute("SELECT NOT EXISTS (SELECT 1 FROM geo_day_sums)").fetchone()[0]
        have = db.execute("SELECT EXISTS (SELECT 1 FROM measures)").fetchone()[0]
        if not (force or (empty and have)):
            return
        self._forget_sums()

        def rebuild() -> None:
            for table, key in SUMS_TABLES:
                rebuild_sums(db, table, key)

        in_transaction(db, rebuild)

    # ------------------------------------------------------------------ write

    def commit(self, batch: CommitBatch) -> CommitResult:
        n = len(batch.ids)
        with self._write_lock:
            by_id, by_key = self._key_maps(batch.org_id)  # loaded before this batch commits
            db = self._writer
            # Held sums follow the commit when the org's are held (the changed sums rows
            # cost a fetch; an org nobody aggregates does not pay it).
            with self._sums_lock:
                log: SumsLog | None = {} if batch.org_id in self._sums else None
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(_VERSION, (batch.org_id,)).fetchone()
                result = insert_batch(db, batch, n, log)
                db.execute("COMMIT")
            except BaseException:
                # SQLite has rolled back already when the COMMIT itself failed (SQLITE_FULL):
                # a ROLLBACK then raised "no transaction is active" over the real error
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            state = result.state
            before = tuple(row) if row else None
            after = (state.record_count, state.checksum, state.max_seq)
            self._note_sums(batch.org_id, before, after, log)  # type: ignore[arg-type]
            if self._spend.holds(batch.org_id):
                self._spend.note(batch.org_id, before, after, result.removed_seqs,  # type: ignore[arg-type]
                                 _spend_rows(batch, result.seqs))  # fmt: skip
            by_id.withdraw(result.removed_seqs)
            by_key.withdraw(result.removed_seqs)
            by_id.add(key_hashes(batch.ids), result.seqs)
            keyed = [i for i, k in enumerate(batch.natural_keys) if k]
            by_key.add(key_hashes(batch.natural_keys[i] for i in keyed), result.seqs[keyed])
            self._bound_key_maps()
        return result


def _spend_rows(b: CommitBatch, seqs: np.ndarray) -> list[SpendRow]:
    """The batch's records with spend as ``measures`` holds them (NaN spend is 0 there)."""
    spend = np.nan_to_num(np.asarray(b.measures, dtype=np.float64)[:, 0]).tolist()
    return [(seq, day, geo, source, channel, campaign, x)
            for seq, day, geo, source, channel, campaign, x in zip(
                seqs.tolist(), b.days, b.geos, b.sources, b.channels, b.campaign_ids, spend,
                strict=True) if x != 0]  # fmt: skip
