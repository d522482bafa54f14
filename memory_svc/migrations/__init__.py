"""Versioned schema of the PostgreSQL record store.

Each migration is a module ``vNNNN_<name>.py`` holding ``SQL``; :func:`migrate` applies, in
version order, those not yet in ``schema_migrations`` — each in its own transaction together
with its row there, so a migration is applied whole or not at all. A session-level advisory
lock serialises replicas that start at once on the same database. Migrations are never edited
once released: a change to the schema is a new module.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from dataclasses import dataclass

import psycopg

from memory_svc.errors import SchemaTooNew

__all__ = ["MIGRATIONS", "Migration", "applied", "migrate"]

_LOGGER = logging.getLogger(__name__)

# pg_advisory_lock key: "liftos-memory-migrate" folded to a bigint
_LOCK_KEY = 0x4C4D4D494752


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def _discover() -> list[Migration]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        m = re.fullmatch(r"v(\d{4})_(\w+)", info.name)
        if m:
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(Migration(int(m.group(1)), m.group(2), module.SQL))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must run 1..n without gaps: {versions}")
    return found


MIGRATIONS: list[Migration] = _discover()


def applied(conn: psycopg.Connection) -> list[int]:
    """Versions recorded in ``schema_migrations`` (empty before the first migration)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply the migrations ``conn``'s database lacks; returns the versions applied now.

    ``conn`` must be in autocommit mode (each migration opens its own transaction). A database
    whose schema is newer than this code (a version it does not know) is refused.
    """
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = set(applied(conn))
        known = {mig.version for mig in MIGRATIONS}
        unknown = sorted(done - known)
        if unknown:
            raise SchemaTooNew(
                f"the database has schema versions {unknown} this code does not know "
                f"(newest known: {max(known, default=0)}): a newer LiftOS migrated it; run "
                "that version (or newer), or restore a dump taken before the upgrade"
            )
        now = []
        for mig in MIGRATIONS:
            if mig.version in done:
                continue
            with conn.transaction():
                conn.execute(mig.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (mig.version, mig.name),
                )
            now.append(mig.version)
            _LOGGER.info("schema migration %04d_%s applied", mig.version, mig.name)
        return now
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
