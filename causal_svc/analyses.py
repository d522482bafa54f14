"""Stored analyses (SQLite): every estimate and attribution result, by org and id.

The payload is the serialised result contract, opaque here; long analyses become jobs with
these ids, so they can move to a distributed engine without changing the contract.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from causal_svc.errors import AnalysisNotFound
from mesh.runtime.sqlite_db import LockedSQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    org_id TEXT NOT NULL,
    analysis_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    create_time_us INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (org_id, analysis_id)
);
CREATE INDEX IF NOT EXISTS analyses_by_time ON analyses (org_id, create_time_us DESC);
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


class AnalysisStore(LockedSQLite):
    """SQLite-backed analysis store; safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def put(self, analysis: StoredAnalysis) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO analyses VALUES (?, ?, ?, ?, ?)",
                (
                    analysis.org_id,
                    analysis.analysis_id,
                    analysis.kind,
                    int(analysis.create_time.timestamp() * 1e6),
                    analysis.payload,
                ),
            )

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
                "ORDER BY create_time_us DESC LIMIT ?",
                (org_id, limit),
            ).fetchall()
        return [
            StoredAnalysis(
                org_id, r[0], r[1], dt.datetime.fromtimestamp(r[2] / 1e6, tz=dt.UTC), bytes(r[3])
            )
            for r in rows
        ]
