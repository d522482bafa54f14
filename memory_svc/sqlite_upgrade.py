"""Upgrading an SQLite record store in place: the columns a newer schema adds (and the
one-off fills of ``measures``, ``measures.account_id`` and ``product_records.sku`` from the
payloads), sums tables rebuilt from ``measures``, and the one-transaction wrapper they run in.

Several processes may open one database at the same moment (memory processes whose
``--store`` names one SQLite file): a column is added after asking again inside a write
transaction, and a fill is marked done with a row that a second marker leaves as it is, so
the process that finds the work done meanwhile does nothing instead of failing ("duplicate
column name", as causal's analysis store did in s18). A fill commits 5,000 rows at a time and
takes only rows still without a value: a process killed in the middle leaves rows filled and
the mark unset, and the next open fills the rest.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from memory_svc.accounts import INDEX as ACCOUNT_INDEX
from memory_svc.errors import SchemaTooNew
from memory_svc.product_table import SQLITE_SCHEMA as PRODUCTS_SCHEMA
from memory_svc.sqlite_commit import MEASURES_INSERT
from memory_svc.store_sql import REBUILD_SUMS, SCHEMA
from memory_svc.unreported import INDEX as UNREPORTED_INDEX
from mesh.runtime.sqlite_db import transaction

__all__ = [
    "SCHEMA_VERSION",
    "add_column",
    "add_measures_columns",
    "add_sku_column",
    "fill_accounts",
    "fill_from_payloads",
    "fill_measures",
    "fill_skus",
    "in_transaction",
    "mark_filled",
    "open_schema",
    "rebuild_sums",
]

_LOGGER = logging.getLogger(__name__)

# The schema of memory's SQLite file, in ``PRAGMA user_version``. 0: a file from before the
# version was kept (s19); 1: measures.currency, .unreported, .account_id and
# product_records.sku with their indexes. A change to the layout adds one, and this build
# refuses a file whose version it does not know: a build from before a change would
# otherwise start SERVING and fail every write (R39 F2).
SCHEMA_VERSION = 1


def open_schema(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file at ``path`` to this build's schema (tables, columns added since, their
    indexes) and version; :class:`SchemaTooNew` before any change to a newer file."""
    found = _check_version(db, path)
    db.executescript(SCHEMA)
    db.executescript(PRODUCTS_SCHEMA)
    add_measures_columns(db)
    add_sku_column(db)
    _mark_version(db, path, found)


def _check_version(db: sqlite3.Connection, path: Path) -> int:
    """The file's schema version; :class:`SchemaTooNew` naming both versions when it is
    newer than this build's."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{path} has schema version {found}, newer than this build's {SCHEMA_VERSION}: "
            "a newer LiftOS upgraded it. Run that version (or newer), or restore a copy of "
            "the data dir taken before the upgrade; this build does not open it"
        )
    return found


def _mark_version(db: sqlite3.Connection, path: Path, found: int) -> None:
    """Record this build's schema version once its upgrades are done (logged once, by the
    process that raises it)."""
    if found >= SCHEMA_VERSION:
        return
    with transaction(db):
        now = int(db.execute("PRAGMA user_version").fetchone()[0])
        if now >= SCHEMA_VERSION:
            return
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    _LOGGER.info(
        "%s: schema version %d -> %d; a build from before this version cannot write to it "
        "(it refuses to start only from version 1 on)", path, now, SCHEMA_VERSION,
    )  # fmt: skip


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def add_column(db: sqlite3.Connection, table: str, column: str, declaration: str) -> None:
    """``table`` gains ``column`` (``declaration``: its type and default) unless it has it;
    asked again under the write lock, as another process opening the same database may have
    added it between the first look and the ALTER."""
    if column in _columns(db, table):
        return
    with transaction(db):
        if column in _columns(db, table):
            return
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    _LOGGER.info("schema upgrade: column %s.%s added (%s)", table, column, declaration)


def add_measures_columns(db: sqlite3.Connection) -> None:
    """The columns ``measures`` gained after release, with their indexes: ``currency`` (""
    = not known yet; ``SQLiteRecordStore.backfill_currencies`` fills it from the payloads),
    ``unreported`` (0 on older rows: records stored before the flag existed carry none) and
    ``account_id`` ("" until ``backfill_accounts`` reads it from the payloads)."""
    add_column(db, "measures", "currency", "TEXT NOT NULL DEFAULT ''")
    add_column(db, "measures", "unreported", "INTEGER NOT NULL DEFAULT 0")
    db.execute(UNREPORTED_INDEX)
    add_column(db, "measures", "account_id", "TEXT NOT NULL DEFAULT ''")
    db.execute(ACCOUNT_INDEX)


def add_sku_column(db: sqlite3.Connection) -> None:
    """A database from before ``product_records.sku`` (R9-F1): the column is added, "" until
    :func:`fill_skus` reads the catalogue rows' SKUs from their payloads."""
    add_column(db, "product_records", "sku", "TEXT NOT NULL DEFAULT ''")


def mark_filled(db: sqlite3.Connection, key: str) -> None:
    """Mark the one-off fill ``key`` done (``meta``); a mark another process set first stays."""
    db.execute("INSERT INTO meta (key, value) VALUES (?, 1) ON CONFLICT(key) DO NOTHING", (key,))


def fill_from_payloads(
    db: sqlite3.Connection, select: str, update: str, decode: Callable[[list[bytes]], list[str]]
) -> int:
    """The one-off fill of a column added after rows were stored, from their payloads, 5,000
    rows a transaction: ``select`` gives (seq, payload) of the rows past seq ``?`` still
    without it, ``update`` sets it (``?`` value, ``?`` seq), ``decode`` reads each payload's
    value ("" leaves the row). Returns how many rows got one (as PostgreSQL's
    ``_fill_from_payloads``)."""
    filled, last = 0, -1
    while True:
        rows = db.execute(select, (last,)).fetchall()
        if not rows:
            return filled
        found = [(v, r[0]) for r, v in zip(rows, decode([r[1] for r in rows]), strict=True) if v]
        in_transaction(db, functools.partial(db.executemany, update, found))
        filled += len(found)
        last = rows[-1][0]


def fill_measures(
    db: sqlite3.Connection,
    decode: Callable[[list[bytes]], list[tuple[int, float, float, float, float, str]]],
) -> int:
    """``measures`` rows for records stored before the table existed, 5,000 a transaction,
    ``decode`` giving each payload's (day, spend, impressions, conversions, revenue,
    currency). Returns how many records were filled."""
    filled = 0
    while True:
        rows = db.execute(
            "SELECT r.seq, r.org_id, r.geo, r.source, r.channel, r.campaign_id, p.payload "
            "FROM records r JOIN payloads p ON p.seq = r.seq "
            "WHERE NOT EXISTS (SELECT 1 FROM measures m WHERE m.seq = r.seq) LIMIT 5000"
        ).fetchall()
        if not rows:
            return filled
        values = decode([r[6] for r in rows])
        # account_id "": fill_accounts reads it from the same payloads next
        fill = [(*r[:1], r[1], v[0], *r[2:6], *v[1:], 0, "")
                for r, v in zip(rows, values, strict=True)]  # fmt: skip
        in_transaction(db, functools.partial(db.executemany, MEASURES_INSERT, fill))
        filled += len(rows)


def fill_skus(db: sqlite3.Connection, decode: Callable[[list[bytes]], list[str]]) -> int:
    """Once per database (marked by ``meta.product_sku``): the SKU of each catalogue row
    stored without one, from its payload (``decode`` gives each payload's product.sku); only
    the catalogue's are read (AggregateProducts matches report ids to them). Returns how
    many rows got one."""
    if db.execute("SELECT 1 FROM meta WHERE key = 'product_sku'").fetchone():
        return 0
    filled = fill_from_payloads(
        db,
        "SELECT r.seq, p.payload FROM product_records r JOIN payloads p ON p.seq = r.seq "
        "WHERE r.seq > ? AND r.source = 'shopify_products' AND r.sku = '' "
        "ORDER BY r.seq LIMIT 5000",
        "UPDATE product_records SET sku = ? WHERE seq = ?",
        decode,
    )
    in_transaction(db, lambda: mark_filled(db, "product_sku"))
    return filled


def fill_accounts(db: sqlite3.Connection, decode: Callable[[list[bytes]], list[str]]) -> int:
    """Once per database (marked by ``meta.measures_account``): ``measures.account_id`` of
    the rows stored before the column, from their payloads (``decode`` gives each payload's
    account_id; a record that names none keeps ""). Returns how many rows got one."""
    if db.execute("SELECT 1 FROM meta WHERE key = 'measures_account'").fetchone():
        return 0
    filled = fill_from_payloads(
        db,
        "SELECT m.seq, p.payload FROM measures m JOIN payloads p ON p.seq = m.seq "
        "WHERE m.seq > ? AND m.account_id = '' ORDER BY m.seq LIMIT 5000",
        "UPDATE measures SET account_id = ? WHERE seq = ?",
        decode,
    )
    in_transaction(db, lambda: mark_filled(db, "measures_account"))
    return filled


def rebuild_sums(db: sqlite3.Connection, table: str, key: str) -> None:
    for statement in REBUILD_SUMS.format(table=table, key=key).split(";"):
        db.execute(statement)


def in_transaction(db: sqlite3.Connection, work: Callable[[], object]) -> None:
    with transaction(db):
        work()
