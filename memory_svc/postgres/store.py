"""The record of truth on PostgreSQL: :class:`PostgresRecordStore`.

Connections: one writer (a transaction per commit, under a lock: one commit at a time per
process, as with SQLite), a reader per worker thread in autocommit (each read is one
statement over one snapshot), and a connection of its own for each long read — recovery's
vector and id streams — which streams through a server-side cursor instead of holding the
org's rows in memory; each Scan reads its pages in a REPEATABLE READ transaction of its own
(one snapshot, ``memory_svc.scan_snapshots``) on a pooled connection.

Durability: a commit returns once PostgreSQL has flushed its WAL (``synchronous_commit``
is set ``on`` for the writer, whatever the server's default), so an acknowledged write
survives a kill of either process. The schema is migrated on open
(``memory_svc.migrations``).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np
import psycopg

from memory_svc.accounts import AccountSummary, DecodeAccounts, Deletion, DeletionFilter
from memory_svc.campaign_geo import SPEND_ROWS, HeldSpend, SpendCells
from memory_svc.graph import GraphEdgeRow, GraphNodeRow
from memory_svc.graph_sql import POSTGRES, GraphReads
from memory_svc.migrations import migrate
from memory_svc.org_sums import SumsTable, aggregate_from, with_campaign_names
from memory_svc.postgres import delete
from memory_svc.postgres.commit import insert_batch
from memory_svc.postgres.sql import (
    CAMPAIGN_DAY_ROWS,
    CAMPAIGN_NAMES,
    CURRENCY_DAY_ROWS,
    GEO_DAY_ROWS,
    filter_sql,
    scan_sql,
)
from memory_svc.product_table import ProductAggregate, aggregate_sql, record_count_sql
from memory_svc.scan_replies import take_page
from memory_svc.sqlite_store import SUMS_CACHE_BYTES
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
from memory_svc.unreported import with_unreported
from mesh.runtime.exceptions import DependencyUnavailable, LiftosError
from mesh.runtime.storage import storage_failure

__all__ = ["PostgresRecordStore", "is_postgres_url"]

_SCHEMES = ("postgresql://", "postgres://")
# What a caller of a write refused for a full disk lost (the SQLite store says the same).
_LOST = "the batch was not stored — retry it"


def is_postgres_url(url: str) -> bool:
    return url.startswith(_SCHEMES)


P = ParamSpec("P")
R = TypeVar("R")


def _unavailable(exc: psycopg.OperationalError) -> LiftosError:
    """A lost or refused connection: UNAVAILABLE. The server's disk full (DiskFull, SQLSTATE
    53100, also an OperationalError) is RESOURCE_EXHAUSTED like the SQLite store's
    (``mesh.runtime.storage``): the server is there, and the batch may be re-sent once it has
    room, not in a moment."""
    full = storage_failure(exc, "its server", owner="the PostgreSQL record store", lost=_LOST)
    if full is not None:
        return full
    # libpq's message names host and port, never the password
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DependencyUnavailable(
        f"the PostgreSQL record store is unreachable: {first}", dependency="postgresql"
    )


def _reachable(method: Callable[P, R]) -> Callable[P, R]:
    """A lost or refused connection is UNAVAILABLE (retry later), not an internal error."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc

    return call


class PostgresRecordStore:
    """PostgreSQL implementation of :class:`memory_svc.store.RecordStore`."""

    def __init__(self, url: str, *, decode_accounts: DecodeAccounts | None = None) -> None:
        # decode_accounts: as SQLiteRecordStore's (a measures row whose account_id is "")
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL (postgresql://…): {url.split('@')[-1]!r}")
        self._url = url
        self.decode_accounts = decode_accounts
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        self._writer = psycopg.connect(url)
        self._writer.execute("SET synchronous_commit = on")
        self._writer.commit()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[psycopg.Connection] = []
        self._readers_lock = threading.Lock()
        # org → (data version, (geo-day, campaign-day, currency-day sums)), as the SQLite
        # store keeps
        self._sums: OrderedDict[str, tuple[tuple[int, int, int], _Sums]] = OrderedDict()
        self._sums_lock = threading.Lock()
        # org → its records' spend per day × geo × campaign as arrays, as the SQLite store keeps
        self._spend = HeldSpend(SUMS_CACHE_BYTES)
        self._graph = GraphReads(POSTGRES, lambda sql, params: self._read().execute(sql, params))  # type: ignore[arg-type]
        self._scans = _Scans(url)

    def _read(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.broken or conn.closed:
            if conn is not None:  # lost (server restarted): replaced, not kept
                with self._readers_lock:
                    self._readers.remove(conn)
                conn.close()
            conn = psycopg.connect(self._url, autocommit=True)
            conn.execute("SET default_transaction_read_only = on")
            # Filters differ in selectivity by orders of magnitude (one campaign × two geos
            # against a quality floor): plan each with its values, never a generic plan
            # cached for the statement after its fifth run.
            conn.execute("SET plan_cache_mode = force_custom_plan")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _stream(self, sql: str, params: Sequence[object], page: int) -> Iterator[list[tuple]]:  # type: ignore[type-arg]
        """Rows of ``sql`` ``page`` at a time through a server-side cursor, on a connection
        of its own (its transaction stays open until the stream ends or is dropped)."""
        try:
            with psycopg.connect(self._url) as conn:
                conn.read_only = True
                with conn.cursor(name="stream", binary=True) as cur:
                    cur.itersize = page
                    cur.execute(sql, params)
                    while rows := cur.fetchmany(page):
                        yield rows
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc

    def close(self) -> None:
        self._scans.close()
        with self._write_lock:
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # ------------------------------------------------------------------ reads

    @_reachable
    def org_state(self, org_id: str) -> OrgState | None:
        row = (
            self._read()
            .execute(
                "SELECT org_id, record_count, checksum, max_seq, embedder, dim FROM orgs "
                "WHERE org_id = %s",
                (org_id,),
            )
            .fetchone()
        )
        return OrgState(*row) if row else None

    @_reachable
    def orgs(self) -> list[str]:
        return [r[0] for r in self._read().execute("SELECT org_id FROM orgs ORDER BY org_id")]

    @_reachable
    def existing(
        self, org_id: str, ids: Sequence[str], natural_keys: Sequence[str]
    ) -> list[ExistingRecord]:
        """Stored records with one of ``ids`` or (non-empty) ``natural_keys`` (indexed)."""
        keys = sorted({k for k in natural_keys if k})
        # with the stored numbers, which tell a same-version record with other content
        # (memory_svc.writer) — as the SQLite store reads them
        rows = (
            self._read()
            .execute(
                "SELECT r.seq, r.id, r.natural_key, r.version, r.graph_nodes, m.spend, "
                "m.impressions, m.conversions, m.revenue FROM ("
                "SELECT seq, id, natural_key, version, graph_nodes FROM records "
                "WHERE org_id = %s AND id = ANY(%s::text[]) UNION "
                "SELECT seq, id, natural_key, version, graph_nodes FROM records "
                "WHERE org_id = %s AND natural_key = ANY(%s::text[]) AND natural_key <> ''"
                ") r LEFT JOIN measures m ON m.seq = r.seq",
                (org_id, sorted(set(ids)), org_id, keys),
            )
            .fetchall()
        )
        return [existing_record(r) for r in rows]

    @_reachable
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
        return _scan_page(self._read(), org_id, flt, after, limit, with_embeddings, max_bytes)

    @_reachable
    def read_transaction(self, org_id: str) -> ReadTransaction:
        return self._scans.begin(org_id)

    @_reachable
    def candidates(self, org_id: str, flt: RecordFilter, limit: int | None) -> np.ndarray:
        where, params = filter_sql(org_id, flt)
        sql = f"SELECT r.seq FROM records r WHERE {where}"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        rows = self._read().execute(sql, params).fetchall()
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    @_reachable
    def matching(self, org_id: str, seqs: np.ndarray, flt: RecordFilter) -> np.ndarray:
        where, params = filter_sql(org_id, flt)
        rows = (
            self._read()
            .execute(
                f"SELECT r.seq FROM records r WHERE {where} AND r.seq = ANY(%s::int8[])",
                (*params, np.asarray(seqs, dtype=np.int64).tolist()),
            )
            .fetchall()
        )
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    @_reachable
    def vectors(self, seqs: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
        rows = (
            self._read()
            .execute(
                "SELECT seq, embedding FROM vectors WHERE seq = ANY(%s::int8[])",
                (np.asarray(seqs, dtype=np.int64).tolist(),),
                binary=True,
            )
            .fetchall()
        )
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
        return np.fromiter((r[0] for r in rows), np.int64, len(rows)), matrix

    def iter_vectors(
        self, org_id: str, dim: int, after_seq: int, page: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for rows in self._stream(
            "SELECT r.seq, v.embedding FROM records r JOIN vectors v ON v.seq = r.seq "
            "WHERE r.org_id = %s AND r.seq > %s ORDER BY r.seq",
            (org_id, after_seq),
            page,
        ):
            seqs = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4")
            yield seqs, matrix.reshape(len(rows), dim)

    @_reachable
    def removed_since(self, org_id: str, seq: int) -> np.ndarray:
        rows = (
            self._read()
            .execute(
                "SELECT seq FROM history WHERE org_id = %s AND replaced_at_seq > %s",
                (org_id, seq),
            )
            .fetchall()
        )
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    @_reachable
    def hits(self, org_id: str, seqs: Sequence[int], with_payload: bool) -> dict[int, HitRow]:
        if not seqs:
            return {}
        if with_payload:
            sql = (
                "SELECT r.seq, r.id, p.payload FROM records r JOIN payloads p ON p.seq = r.seq "
                "WHERE r.org_id = %s AND r.seq = ANY(%s::int8[])"
            )
        else:
            sql = (
                "SELECT seq, id, NULL::bytea FROM records WHERE org_id = %s "
                "AND seq = ANY(%s::int8[])"
            )
        rows = self._read().execute(sql, (org_id, [int(s) for s in seqs]), binary=True)
        return {row[0]: HitRow(*row) for row in rows}

    def iter_record_ids(
        self, org_id: str, page: int = 100_000
    ) -> Iterator[tuple[np.ndarray, list[str]]]:
        """(seqs, ids) of the org's current records, page by page in seq order."""
        for rows in self._stream(
            "SELECT seq, id FROM records WHERE org_id = %s ORDER BY seq", (org_id,), page
        ):
            yield np.fromiter((r[0] for r in rows), np.int64, len(rows)), [r[1] for r in rows]

    @_reachable
    def present_nodes(self, org_id: str, node_ids: Sequence[str]) -> set[str]:
        return self._graph.present(org_id, node_ids)

    @_reachable
    def node_names(self, org_id: str, kind: str) -> list[str]:
        return self._graph.names_of_kind(org_id, kind)

    @_reachable
    def graph(self, org_id: str) -> tuple[list[GraphNodeRow], list[GraphEdgeRow]]:
        return self._graph.whole(org_id)

    @_reachable
    def graph_nodes(self, org_id: str, node_ids: Sequence[str]) -> dict[str, GraphNodeRow]:
        return self._graph.nodes(org_id, node_ids)

    @_reachable
    def graph_edges_of(self, org_id: str, node_ids: Sequence[str]) -> list[GraphEdgeRow]:
        return self._graph.edges_of(org_id, node_ids)

    @_reachable
    def history(self, org_id: str, natural_key: str) -> list[tuple[str, int, int]]:
        """(id, version, replaced_at_seq) of the replaced versions of a natural key."""
        return [
            tuple(r)
            for r in self._read().execute(
                "SELECT id, version, replaced_at_seq FROM history "
                "WHERE org_id = %s AND natural_key = %s ORDER BY version",
                (org_id, natural_key),
            )
        ]

    @_reachable
    def aggregate(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> Aggregate:
        """Sums of the org's current records per day × geo and per day × campaign, from the
        org's sums rows as arrays (``memory_svc.org_sums``), read once per data version —
        which every commit of any process changes, so a cached read is never stale."""
        geo, campaign, currency = self._org_sums(org_id)
        agg = aggregate_from(geo, campaign, start_day, end_day, sources, currency)
        agg = with_unreported(agg, self._read(), org_id, start_day, end_day, sources,
                              postgres=True)  # fmt: skip
        return with_campaign_names(agg, lambda ids: self.campaign_names(org_id, ids))

    @_reachable
    def campaign_names(self, org_id: str, campaign_ids: Sequence[str]) -> dict[str, str]:
        """Each id's name from its latest current record that names one (ids none names: left out)."""
        rows = self._read().execute(CAMPAIGN_NAMES, (org_id, list(campaign_ids))).fetchall()
        return {str(c): str(n) for c, n in rows if n is not None}

    @_reachable
    def campaign_geo_spend(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> CampaignGeoDays:
        """Spend of the org's current records per day × geo × campaign, from its spend rows
        as arrays held per data version (``memory_svc.campaign_geo``), read from one
        snapshot."""
        db = self._read()
        with db.transaction():  # version and rows from one snapshot
            version = _snapshot_version(db, org_id)
            answer = self._spend.wide(org_id, version, start_day, end_day, sources)
            if answer is not None:
                return answer
            rows = db.execute(SPEND_ROWS.format(mark="%s"), (org_id,)).fetchall()  # type: ignore[arg-type]
        cells = SpendCells.from_rows(rows)
        if version is not None:
            self._spend.put(org_id, version, cells)
        return cells.wide(start_day, end_day, sources)

    @_reachable
    def aggregate_products(
        self, org_id: str, start_day: int | None, end_day: int | None,
        *, spend_only: bool = False,
    ) -> ProductAggregate:  # fmt: skip
        """The org's product sums (``memory_svc.product_table``) from one snapshot."""
        db = self._read()
        with db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            queries = aggregate_sql(org_id, start_day, end_day, mark="%s", spend_only=spend_only)
            sales, spend, catalogue = [
                db.execute(*q).fetchall() if q is not None else []  # type: ignore[arg-type]
                for q in queries
            ]
            sql, params = record_count_sql(
                org_id, start_day, end_day, mark="%s", spend_only=spend_only
            )
            row = db.execute(sql, params).fetchone()  # type: ignore[arg-type]
        return ProductAggregate(sales, spend, catalogue, int(row[0]) if row else 0)

    def _org_sums(self, org_id: str) -> _Sums:
        db = self._read()
        with db.transaction():  # version and rows from one snapshot
            version = _snapshot_version(db, org_id)
            with self._sums_lock:
                hit = self._sums.get(org_id)
                if hit is not None and hit[0] == version:
                    self._sums.move_to_end(org_id)
                    return hit[1]
            rows = [db.execute(sql, (org_id,)).fetchall()
                    for sql in (GEO_DAY_ROWS, CAMPAIGN_DAY_ROWS, CURRENCY_DAY_ROWS)]  # fmt: skip
        geo, campaign, currency = (SumsTable.from_rows(r) for r in rows)  # type: ignore[arg-type]
        sums = (geo, campaign, currency)
        if version is not None:
            with self._sums_lock:
                held = self._sums.get(org_id)
                if held is None or held[0][2] <= version[2]:
                    self._sums[org_id] = (version, sums)
                    self._sums.move_to_end(org_id)
                total = sum(_nbytes(t) for _, t in self._sums.values())
                while total > SUMS_CACHE_BYTES and len(self._sums) > 1:
                    _, (_, gone) = self._sums.popitem(last=False)
                    total -= _nbytes(gone)
        return sums

    @_reachable
    def backfill_skus(self, decode: Callable[[list[bytes]], list[str]]) -> int:
        """Once per database (``meta.product_sku`` 0 → 1; migration 6 added the column with ""
        for the rows before it): fill the catalogue rows' ``product_records.sku`` from their
        payloads, in one transaction holding ``meta.next_seq``'s row lock, so no commit of any
        process lands in between. ``decode`` gives each payload's product.sku. Returns how
        many rows got one."""
        with self._write_lock, self._writer.transaction():
            cur = self._writer.cursor()
            if not _not_yet_filled(cur, "product_sku"):
                return 0
            filled = _fill_from_payloads(
                cur,
                "SELECT r.seq, p.payload FROM product_records r JOIN payloads p "
                "ON p.seq = r.seq WHERE r.seq > %s AND r.source = 'shopify_products' "
                "AND r.sku = '' ORDER BY r.seq LIMIT 5000",
                "UPDATE product_records r SET sku = u.value FROM unnest(%s::int8[], "
                "%s::text[]) AS u(seq, value) WHERE r.seq = u.seq",
                decode,
            )
            cur.execute("UPDATE meta SET value = 1 WHERE key = 'product_sku'")
        return filled

    @_reachable
    def backfill_currencies(self, decode: Callable[[list[bytes]], list[str]]) -> int:
        """Once per database (``meta.measures_currency`` 0 → 1; migration 5 added the column
        with "" for the rows before it): fill ``measures.currency`` from the stored payloads
        where it is "", and recompute ``currency_day_sums`` — in one transaction holding
        ``meta.next_seq``'s row lock, so no commit of any process lands in between.
        ``decode`` gives each payload's currency_code. Returns how many rows got one."""
        with self._write_lock, self._writer.transaction():
            cur = self._writer.cursor()
            if not _not_yet_filled(cur, "measures_currency"):
                return 0
            filled = _fill_from_payloads(
                cur,
                "SELECT m.seq, p.payload FROM measures m JOIN payloads p ON p.seq = m.seq "
                "WHERE m.seq > %s AND m.currency = '' ORDER BY m.seq LIMIT 5000",
                "UPDATE measures m SET currency = u.value FROM unnest(%s::int8[], "
                "%s::text[]) AS u(seq, value) WHERE m.seq = u.seq",
                decode,
            )
            cur.execute("DELETE FROM currency_day_sums")
            cur.execute(
                "INSERT INTO currency_day_sums (org_id, day, currency, source, channel, spend, "
                "impressions, conversions, revenue, records) "
                "SELECT org_id, day, currency, source, channel, "
                "SUM(spend), SUM(impressions), SUM(conversions), SUM(revenue), COUNT(*) "
                "FROM measures GROUP BY org_id, day, currency, source, channel"
            )
            cur.execute("UPDATE meta SET value = 1 WHERE key = 'measures_currency'")
        with self._sums_lock:
            self._sums.clear()
        return filled

    @_reachable
    def backfill_accounts(self, decode: DecodeAccounts) -> int:
        """Once per database (``meta.measures_account`` 0 → 1; migration 8 added the column
        with "" for the rows before it): fill ``measures.account_id`` from the stored
        payloads where it is "", in one transaction holding ``meta.next_seq``'s row lock, as
        :meth:`backfill_currencies` — a process killed in it leaves nothing half done, and
        one opening the database meanwhile waits, then finds it done. ``decode`` gives each
        payload's account_id. Returns how many rows got one."""
        with self._write_lock, self._writer.transaction():
            cur = self._writer.cursor()
            if not _not_yet_filled(cur, "measures_account"):
                return 0
            filled = _fill_from_payloads(
                cur,
                "SELECT m.seq, p.payload FROM measures m JOIN payloads p ON p.seq = m.seq "
                "WHERE m.seq > %s AND m.account_id = '' ORDER BY m.seq LIMIT 5000",
                "UPDATE measures m SET account_id = u.value FROM unnest(%s::int8[], "
                "%s::text[]) AS u(seq, value) WHERE m.seq = u.seq",
                decode,
            )
            cur.execute("UPDATE meta SET value = 1 WHERE key = 'measures_account'")
        return filled

    # ------------------------------------------------------------------ write

    @_reachable
    def accounts(self, org_id: str) -> list[AccountSummary]:
        """The org's current records per (source, account) (``postgres.delete``)."""
        return delete.accounts(self._read(), org_id, self.decode_accounts)

    @_reachable
    def delete_records(
        self, org_id: str, flt: DeletionFilter, *, dry_run: bool, now_us: int
    ) -> Deletion:
        """Delete the org's records ``flt`` picks, in one transaction (``postgres.delete``)."""
        with self._write_lock:
            try:
                done = delete.delete_records(self._writer, org_id, flt, dry_run=dry_run,
                                             now_us=now_us, decode=self.decode_accounts)  # fmt: skip
            except psycopg.OperationalError:
                self._reconnect()
                raise
        with self._sums_lock:
            self._sums.pop(org_id, None)
        return done

    @_reachable
    def commit(self, batch: CommitBatch) -> CommitResult:
        """Store a batch in one transaction; returns once it is durable."""
        with self._write_lock:
            try:
                with self._writer.transaction():
                    return insert_batch(self._writer, batch, len(batch.ids))
            except psycopg.OperationalError:
                # a broken connection (server restarted): the next commit opens a new one;
                # this one's outcome is unknown to the caller, who sees the error
                self._reconnect()
                raise

    def _reconnect(self) -> None:
        try:
            self._writer.close()
        finally:
            self._writer = psycopg.connect(self._url)
            self._writer.execute("SET synchronous_commit = on")
            self._writer.commit()


def _scan_page(
    conn: psycopg.Connection,
    org_id: str,
    flt: RecordFilter,
    after: tuple[int, str] | None,
    limit: int,
    with_embeddings: bool,
    max_bytes: int | None,
) -> list[ScanRow]:
    sql, params = scan_sql(org_id, flt, after, limit, with_embeddings)
    rows = conn.execute(sql, params, binary=True)
    return take_page((ScanRow(*row) for row in rows), max_bytes)


# Idle Scan connections kept for the next Scan (a new one costs a backend's start-up).
_IDLE_SCAN_CONNECTIONS = 2


class _ScanSnapshot:
    """One Scan's REPEATABLE READ read-only transaction (``ReadTransaction``), its snapshot
    taken at construction."""

    def __init__(
        self, conn: psycopg.Connection, org_id: str, release: Callable[[psycopg.Connection], None]
    ) -> None:
        self._conn = conn
        self._org_id = org_id
        self._release = release
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.execute("SELECT 1")  # the snapshot is taken at the first statement
        except BaseException:
            release(conn)
            raise

    @_reachable
    def scan_page(
        self,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
        max_bytes: int | None,
    ) -> list[ScanRow]:
        return _scan_page(self._conn, self._org_id, flt, after, limit, with_embeddings, max_bytes)

    def end(self) -> None:
        try:
            if not self._conn.broken and not self._conn.closed:
                self._conn.execute("ROLLBACK")
        except psycopg.OperationalError:
            self._conn.close()  # lost: not pooled
        finally:
            self._release(self._conn)


class _Scans:
    """Connections for Scans' snapshots, a few kept idle."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def begin(self, org_id: str) -> _ScanSnapshot:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = psycopg.connect(self._url, autocommit=True)
            conn.execute("SET plan_cache_mode = force_custom_plan")  # as the readers'
        return _ScanSnapshot(conn, org_id, self._give_back)

    def _give_back(self, conn: psycopg.Connection) -> None:
        with self._lock:
            idle = not conn.closed and not conn.broken
            idle = idle and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if idle and not self._closed and len(self._idle) < _IDLE_SCAN_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


_Sums = tuple[SumsTable, SumsTable, SumsTable]


def _nbytes(sums: _Sums) -> int:
    return sum(t.nbytes for t in sums)


def _snapshot_version(db: psycopg.Connection, org_id: str) -> tuple[int, int, int] | None:
    """Start a repeatable-read snapshot (inside the caller's transaction) and read the org's
    data version in it: (record_count, checksum, max_seq), None for an org with no records."""
    db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    row = db.execute(
        "SELECT record_count, checksum, max_seq FROM orgs WHERE org_id = %s", (org_id,)
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else None


def _not_yet_filled(cur: psycopg.Cursor[Any], key: str) -> bool:
    """Whether the one-off fill marked by ``meta.<key>`` is still to do (its value 0), with
    that row and ``meta.next_seq``'s locked for the transaction, so no commit of any process
    lands while the fill runs."""
    row = cur.execute("SELECT value FROM meta WHERE key = %s FOR UPDATE", (key,)).fetchone()
    if row is None or row[0] != 0:
        return False
    cur.execute("SELECT value FROM meta WHERE key = 'next_seq' FOR UPDATE")
    return True


def _fill_from_payloads(
    cur: psycopg.Cursor[Any], select: str, update: str, decode: Callable[[list[bytes]], list[str]]
) -> int:
    """Fill a column added after rows were stored: page through ``select`` (seq, payload; one
    ``%s`` for the last seq seen, 5,000 at a time), decode each page's payloads and ``update``
    (two arrays: seqs, values) the rows whose value is not "". Returns how many got one."""
    filled, last = 0, -1
    while True:
        rows = cur.execute(select, (last,)).fetchall()
        if not rows:
            return filled
        found = [(r[0], v) for r, v in zip(rows, decode([bytes(r[1]) for r in rows]),
                                              strict=True) if v]  # fmt: skip
        if found:
            cur.execute(update, ([q for q, _ in found], [v for _, v in found]))
        filled += len(found)
        last = rows[-1][0]
