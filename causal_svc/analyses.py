"""Stored analyses (SQLite): every estimate and attribution result, by org and id.

The payload is the serialised result contract, opaque here; long analyses become jobs with
these ids, so they can move to a distributed engine without changing the contract.

"Newest" is the order of storing (``seq``), not the wall-clock stamp: after the host's clock
steps back (an NTP step, a VM restored from a snapshot) a new analysis is stamped before older
ones, and "the org's latest" must still be the one just run (audit R19-F-CLOCK).

The store records its schema version (``PRAGMA user_version``, :data:`SCHEMA_VERSION`) and a
build refuses to open one written by a newer build, whose rows it might not write correctly
(audit R39-F2); every INSERT names its columns, so a column added later with a default keeps the
store writable by the build before it. Deleting an analysis (an erasure request: it keeps the
campaign ids, names and spend it read) overwrites its cells (``secure_delete``) and
clears the WAL and page gaps (mesh.runtime.sqlite_db.clear_erased), so the bytes leave the
files, not only the answers.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from causal_svc.errors import AnalysisNotFound, InvalidSpec
from mesh.runtime.page_tokens import PageTokens, page_size
from mesh.runtime.sqlite_db import LockedSQLite, transaction
from mesh.runtime.storage import StorageUnwritable

_log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# The store's layout, kept in PRAGMA user_version: 1 = analyses and analysis_models (an
# unversioned store without ``seq`` is read as 1), 2 = analyses numbered as stored (``seq``).
SCHEMA_VERSION = 2
# Ids per statement (SQLite's bound-parameter limit is 999 on older builds).
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    org_id TEXT NOT NULL,
    analysis_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    create_time_us INTEGER NOT NULL,
    payload BLOB NOT NULL,
    seq INTEGER,
    PRIMARY KEY (org_id, analysis_id)
);
CREATE INDEX IF NOT EXISTS analyses_by_time ON analyses (org_id, create_time_us DESC);
-- An attribution analysis's fitted model (opaque bytes), kept to answer counterfactuals.
CREATE TABLE IF NOT EXISTS analysis_models (
    org_id TEXT NOT NULL,
    analysis_id TEXT NOT NULL,
    model BLOB NOT NULL,
    PRIMARY KEY (org_id, analysis_id)
);
"""


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    org_id: str
    analysis_id: str
    kind: str
    create_time: dt.datetime
    payload: bytes


def new_analysis_id() -> str:
    return f"an-{uuid.uuid4().hex[:20]}"


class SchemaTooNew(StorageUnwritable):
    """The store was written by a newer build: this one refuses to start on it (one line)."""


@dataclass(frozen=True, slots=True)
class Deleted:
    """What a delete removed (with dry_run: would remove), and the requested ids not stored."""

    deleted_ids: tuple[str, ...]
    not_found: tuple[str, ...]


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _marks(ids: Sequence[str]) -> str:
    return ", ".join("?" * len(ids))


class AnalysisStore(LockedSQLite):
    """SQLite-backed analysis store; safe to call from worker threads. Page tokens are sealed
    with the deployment's secret (``tokens``; default: mesh.runtime.page_tokens beside the db)."""

    def __init__(self, path: Path, tokens: PageTokens | None = None) -> None:
        super().__init__(path, _SCHEMA)
        self._path = path
        self._tokens = tokens or PageTokens.for_data_dir(path.parent, "ListAnalyses")
        # a deleted analysis's cells are zeroed, not left in free pages (erasure: R40-F1)
        self._db.execute("PRAGMA secure_delete = ON")
        with self._lock:
            try:
                self._upgrade()
            except SchemaTooNew:
                self._db.close()
                raise
            self._db.execute(
                "CREATE INDEX IF NOT EXISTS analyses_by_seq ON analyses (org_id, seq DESC)"
            )

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _upgrade(self) -> None:
        """Refuse a store of a newer layout; bring an older one to :data:`SCHEMA_VERSION`,
        logging each step once (caller holds the lock). Every check is asked again under the
        write lock: a replica starting beside this one on the same store may have done it."""
        if self._version() > SCHEMA_VERSION:
            raise SchemaTooNew(self._too_new(self._version()))
        if self._version() == SCHEMA_VERSION:
            return
        with transaction(self._db) as db:
            found = self._version()
            if found > SCHEMA_VERSION:
                raise SchemaTooNew(self._too_new(found))
            if found == SCHEMA_VERSION:
                return
            fresh = not db.execute("SELECT 1 FROM analyses LIMIT 1").fetchone()
            if "seq" not in self._columns():  # a store written before the sequence
                db.execute("ALTER TABLE analyses ADD COLUMN seq INTEGER")
                numbered = db.execute("UPDATE analyses SET seq = rowid").rowcount  # rowid order
                _log.info(
                    "analysis store %s upgraded to schema %d: column seq added, %d analyses "
                    "numbered in the order stored (a LiftOS build before 2bd3cec cannot write "
                    "to it)", self._path, SCHEMA_VERSION, numbered,
                )  # fmt: skip
            elif not fresh:
                _log.info(
                    "analysis store %s: schema version %d recorded (it had none; a LiftOS "
                    "build from now on refuses a store newer than it knows)",
                    self._path, SCHEMA_VERSION,
                )  # fmt: skip
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _too_new(self, found: int) -> str:
        return (
            f"{self._path}: this data dir was written by a newer LiftOS (analysis store schema "
            f"{found}); this build reads up to schema {SCHEMA_VERSION}: run the newer build, or "
            "restore the data dir's backup from before the upgrade"
        )

    def _columns(self) -> set[str]:
        return {r[1] for r in self._db.execute("PRAGMA table_info(analyses)")}

    def _insert(self, analysis: StoredAnalysis) -> None:
        """One row, numbered after every row of its org stored so far (caller holds the lock)."""
        stamp = int(analysis.create_time.timestamp() * 1e6)
        newest = self._db.execute(
            "SELECT MAX(create_time_us) FROM analyses WHERE org_id = ?", (analysis.org_id,)
        ).fetchone()[0]
        if newest is not None and stamp < newest:
            _log.warning(
                "analysis %s is stamped %s, before the org's newest stored analysis (%s): the "
                "clock stepped back; it is still listed first (analyses are ordered as stored)",
                analysis.analysis_id, analysis.create_time.isoformat(),
                dt.datetime.fromtimestamp(newest / 1e6, tz=dt.UTC).isoformat(),
            )  # fmt: skip
        self._db.execute(
            "INSERT OR REPLACE INTO analyses (org_id, analysis_id, kind, create_time_us, payload, "
            "seq) VALUES (?, ?, ?, ?, ?, "
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM analyses WHERE org_id = ?))",
            (
                analysis.org_id,
                analysis.analysis_id,
                analysis.kind,
                stamp,
                analysis.payload,
                analysis.org_id,
            ),
        )

    def put(self, analysis: StoredAnalysis) -> None:
        with self._transaction():
            self._insert(analysis)

    def put_with_model(self, analysis: StoredAnalysis, model: bytes) -> None:
        """Store an analysis and its fitted model together (one transaction)."""
        with self._transaction() as db:
            self._insert(analysis)
            db.execute(
                "INSERT OR REPLACE INTO analysis_models (org_id, analysis_id, model) "
                "VALUES (?, ?, ?)",
                (analysis.org_id, analysis.analysis_id, model),
            )

    def model(self, org_id: str, analysis_id: str) -> bytes | None:
        """The fitted model stored with an analysis, or None (an effect estimate has none)."""
        with self._lock:
            row = self._db.execute(
                "SELECT model FROM analysis_models WHERE org_id = ? AND analysis_id = ?",
                (org_id, analysis_id),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def get(self, org_id: str, analysis_id: str) -> StoredAnalysis:
        with self._lock:
            row = self._db.execute(
                "SELECT kind, create_time_us, payload FROM analyses WHERE org_id = ? AND analysis_id = ?",
                (org_id, analysis_id),
            ).fetchone()
        if row is None:
            raise AnalysisNotFound(
                f"analysis {analysis_id!r} not found in org {org_id!r}",
                resource_type="liftos.v1.Analysis",
                resource_name=f"orgs/{org_id}/analyses/{analysis_id}",
            )
        return StoredAnalysis(
            org_id,
            analysis_id,
            row[0],
            dt.datetime.fromtimestamp(row[1] / 1e6, tz=dt.UTC),
            bytes(row[2]),
        )

    def latest(self, org_id: str, limit: int = 20) -> list[StoredAnalysis]:
        with self._lock:
            rows = self._db.execute(
                "SELECT analysis_id, kind, create_time_us, payload FROM analyses WHERE org_id = ? "
                "ORDER BY seq DESC LIMIT ?",
                (org_id, limit),
            ).fetchall()
        return [
            StoredAnalysis(
                org_id, r[0], r[1], dt.datetime.fromtimestamp(r[2] / 1e6, tz=dt.UTC), bytes(r[3])
            )
            for r in rows
        ]

    def page(
        self, org_id: str, *, kind: str = "", size: int = 0, token: str = ""
    ) -> tuple[list[StoredAnalysis], str]:
        """A page of the org's analyses (of ``kind``, or all), the last stored first, and the token
        of the next page ("" on the last). The token is bound to the org and the kind."""
        size = page_size(size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        where: list[str] = ["org_id = ?"]
        args: list[object] = [org_id]
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if token:
            key = self._tokens.open_key(org_id, token)
            if len(key) == 3 and isinstance(key[1], int) and isinstance(key[2], str):
                # [kind, time, id]: the cursor of a build before 2bd3cec (listed by stamp)
                raise InvalidSpec(
                    "page_token was issued by an earlier version of the causal service, which "
                    "ordered the list differently; list again from the first page (no "
                    "page_token)",
                    field="page_token",
                )
            if len(key) != 3 or key[0] != kind or key[1] != "seq" or not isinstance(key[2], int):
                raise InvalidSpec(
                    "page_token was issued for another list (kind) or is not one this server "
                    "issued",
                    field="page_token",
                )
            where.append("seq < ?")
            args.append(key[2])
        sql = (
            "SELECT analysis_id, kind, create_time_us, payload, seq FROM analyses WHERE "
            f"{' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (*args, size + 1)).fetchall()
        page = [
            StoredAnalysis(
                org_id, r[0], r[1], dt.datetime.fromtimestamp(r[2] / 1e6, tz=dt.UTC), bytes(r[3])
            )
            for r in rows[:size]
        ]
        next_token = ""
        if len(rows) > size:
            last = rows[size - 1]
            next_token = self._tokens.seal_key(org_id, [kind, "seq", int(last[4])])
        return page, next_token

    def delete(self, org_id: str, ids: Sequence[str] | None, *, dry_run: bool = False) -> Deleted:
        """Delete the org's analyses ``ids`` (None: all of them) with their fitted models, in
        one transaction; with ``dry_run`` only say which. Ids the org has no analysis for are
        listed as not found, so a retry of a delete that landed is answered, not refused."""
        asked = list(dict.fromkeys(ids)) if ids is not None else None
        with self._lock:
            if dry_run:
                found = self._stored(org_id, asked)
            else:
                with transaction(self._db):
                    found = self._stored(org_id, asked)
                    self._remove(org_id, asked, found)
        if not dry_run and found:
            self._erased()  # their bytes leave the WAL and page gaps too (mesh.runtime)
        missing = tuple(i for i in asked if i not in set(found)) if asked is not None else ()
        return Deleted(tuple(found), missing)

    def _stored(self, org_id: str, asked: list[str] | None) -> list[str]:
        """Which of ``asked`` (None: every analysis) the org has, in the order stored."""
        if asked is None:
            rows = self._db.execute(
                "SELECT analysis_id FROM analyses WHERE org_id = ? ORDER BY seq", (org_id,)
            ).fetchall()
            return [r[0] for r in rows]
        held: set[str] = set()
        for part in _chunks(asked):
            rows = self._db.execute(
                f"SELECT analysis_id FROM analyses WHERE org_id = ? AND analysis_id IN "
                f"({_marks(part)})",
                (org_id, *part),
            ).fetchall()
            held.update(r[0] for r in rows)
        return [i for i in asked if i in held]

    def _remove(self, org_id: str, asked: list[str] | None, found: list[str]) -> None:
        """Delete the rows (inside the caller's transaction). A model is deleted by the id asked
        for, so one left without its analysis (none should be) goes too."""
        if asked is None:
            self._db.execute("DELETE FROM analyses WHERE org_id = ?", (org_id,))
            self._db.execute("DELETE FROM analysis_models WHERE org_id = ?", (org_id,))
            return
        for table, ids in (("analyses", found), ("analysis_models", asked)):
            for part in _chunks(ids):
                self._db.execute(
                    f"DELETE FROM {table} WHERE org_id = ? AND analysis_id IN ({_marks(part)})",
                    (org_id, *part),
                )
