"""Upgrading an SQLite record store in place: the column a newer schema adds, sums tables
rebuilt from ``measures``, and the one-transaction wrapper both run in."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from memory_svc.store_sql import REBUILD_SUMS

__all__ = ["add_currency_column", "in_transaction", "rebuild_sums"]


def add_currency_column(db: sqlite3.Connection) -> None:
    """A database from before ``measures.currency``: the column is added ("" = not known
    yet; ``SqliteStore.backfill_currencies`` fills it from the payloads)."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(measures)")}
    if "currency" not in columns:
        db.execute("ALTER TABLE measures ADD COLUMN currency TEXT NOT NULL DEFAULT ''")


def rebuild_sums(db: sqlite3.Connection, table: str, key: str) -> None:
    for statement in REBUILD_SUMS.format(table=table, key=key).split(";"):
        db.execute(statement)


def in_transaction(db: sqlite3.Connection, work: Callable[[], object]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        work()
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
