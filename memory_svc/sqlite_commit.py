"""One commit's statements in the SQLite store: the batch's rows, the versions it replaces
moved to history, the graph counts and the org's state, in the caller's transaction."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from memory_svc.graph import GraphDelta
from memory_svc.product_table import PRODUCT_COLUMNS
from memory_svc.store import CommitBatch, CommitResult, OrgState, seq_checksum
from memory_svc.store_sql import SUMS_FROM_MEASURES, SUMS_RETURNING, SUMS_TABLES, chunks, marks

__all__ = ["MEASURES_INSERT", "SumsLog", "apply_graph", "insert_batch"]

# What a commit did to the sums, when asked: per table, each touched key's sums as stored
# after it — (day, key, source, channel, spend, impressions, conversions, revenue, records).
SumsLog = dict[str, list[tuple]]  # type: ignore[type-arg]


# Columns named: a database upgraded in place has its later columns in the order they were
# added (memory_svc.sqlite_upgrade), not the schema's.
MEASURES_INSERT = (
    "INSERT INTO measures (seq, org_id, day, geo, source, channel, campaign_id, spend, "
    "impressions, conversions, revenue, currency, unreported, account_id) VALUES "
    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _add_sums(
    db: sqlite3.Connection, where: str, params: Sequence[object], sign: str, log: SumsLog | None
) -> None:
    """Add (``sign`` "") or take away ("-") the measures rows chosen by ``where`` in every sums
    table, logging the keys' new sums when ``log`` is given."""
    for table, key in SUMS_TABLES:
        sql = SUMS_FROM_MEASURES.format(table=table, key=key, sign=sign, where=where)
        if log is None:
            db.execute(sql, params)
        else:
            log.setdefault(table, []).extend(
                db.execute(sql + SUMS_RETURNING.format(key=key), params).fetchall()
            )


def _take_away(db: sqlite3.Connection, seqs: np.ndarray, log: SumsLog | None) -> None:
    """Take the numbers of records about to be replaced out of the sums."""
    for part in chunks([int(s) for s in seqs]):
        _add_sums(db, f"seq IN ({marks(len(part))})", part, "-", log)


def _add_measures(
    db: sqlite3.Connection, b: CommitBatch, seqs: list[int], log: SumsLog | None
) -> None:
    """The batch's measures rows, and their numbers added to the sums tables."""
    m = np.nan_to_num(np.asarray(b.measures, dtype=np.float64))
    rows = zip(seqs, [b.org_id] * len(seqs), b.days, b.geos, b.sources, b.channels,
               b.campaign_ids, *m.T.tolist(), b.currencies, b.unreported, b.account_ids,
               strict=True)  # fmt: skip
    db.executemany(MEASURES_INSERT, rows)
    if seqs:
        _add_sums(db, "seq BETWEEN ? AND ?", [seqs[0], seqs[-1]], "", log)


def insert_batch(
    db: sqlite3.Connection, b: CommitBatch, n: int, sums_log: SumsLog | None = None
) -> CommitResult:
    """Store ``b`` (``n`` records) inside the caller's open transaction; ``sums_log`` (when
    given) receives the sums rows the commit changed, as stored after it."""
    row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    first = row[0] if row else 1
    seqs = np.arange(first, first + n, dtype=np.int64)
    seq_list = seqs.tolist()
    replaced = [(s, old) for s, old in zip(seq_list, b.replaces, strict=True) if old]
    removed = np.array([old.seq for _, old in replaced], dtype=np.int64)
    if replaced:
        db.executemany(
            "INSERT INTO history (org_id, id, natural_key, version, seq, replaced_at_seq, replaced_by_id, replaced_us, payload) "
            "SELECT r.org_id, r.id, r.natural_key, r.version, r.seq, "
            "?, ?, ?, p.payload FROM records r JOIN payloads p ON p.seq = r.seq "
            "WHERE r.seq = ?",
            [
                (s, b.ids[i], b.now_us, old.seq)
                for i, (s, old) in enumerate(zip(seq_list, b.replaces, strict=True))
                if old
            ],
        )
        old_seqs = [(int(s),) for s in removed]
        _take_away(db, removed, sums_log)
        for table in ("records", "payloads", "vectors", "measures", "product_records"):
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
        "INSERT INTO records (seq, org_id, id, natural_key, version, timestamp_us, source, "
        "campaign_id, campaign_name, channel, geo, experiment_id, treatment_group, quality, "
        "conceptual_space, graph_nodes, written_us) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
    db.executemany(
        "INSERT INTO payloads (seq, payload) VALUES (?, ?)", zip(seq_list, b.payloads, strict=True)
    )
    _add_measures(db, b, seq_list, sums_log)
    if b.products:
        db.executemany(
            f"INSERT INTO product_records (seq, {', '.join(PRODUCT_COLUMNS)}) "
            f"VALUES (?, {marks(len(PRODUCT_COLUMNS))})",
            [(seq_list[i], *values) for i, values in b.products],
        )
    # each row of a C-contiguous float32 matrix binds as its 4·dim bytes, without a copy
    emb = np.ascontiguousarray(b.embeddings, dtype=np.float32)
    db.executemany(
        "INSERT INTO vectors (seq, embedding) VALUES (?, ?)", zip(seq_list, emb, strict=True)
    )
    db.executemany(
        "INSERT INTO record_regions (org_id, region, seq) VALUES (?, ?, ?)",
        _region_rows(b, seq_list),
    )
    apply_graph(db, b.org_id, b.graph)
    state = _update_org(db, b, seqs, removed, n - len(replaced))
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('next_seq', ?) ON CONFLICT(key) DO UPDATE SET value = ?",
        (first + n, first + n),
    )
    return CommitResult(seqs, removed, state)


def _region_rows(b: CommitBatch, seqs: list[int]) -> Iterator[tuple[str, str, int]]:
    """The batch's (org, region, seq) rows in the table's key order: each region's rows go
    into its own run of leaf pages one after the other, instead of every record switching
    among its spaces' leaves (a b-tree descent and page switch per row)."""
    counts = [len(r) for r in b.regions]
    regions = np.array([region for r in b.regions for region in r], dtype=object)
    if not len(regions):
        return iter(())
    row_seqs = np.repeat(np.asarray(seqs, dtype=np.int64), counts)
    codes, _ = pd.factorize(regions, sort=True)
    order = np.lexsort((row_seqs, codes))
    return zip(
        itertools.repeat(b.org_id), regions[order].tolist(), row_seqs[order].tolist(), strict=False
    )


def _update_org(
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
        "INSERT INTO orgs (org_id, record_count, checksum, max_seq, embedder, dim, created_us, "
        "updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(org_id) DO UPDATE SET "
        "record_count = excluded.record_count, checksum = excluded.checksum, "
        "max_seq = excluded.max_seq, updated_us = excluded.updated_us",
        (b.org_id, count + added, checksum, max_seq, b.embedder, b.dim, b.now_us, b.now_us),
    )
    state = db.execute(
        "SELECT org_id, record_count, checksum, max_seq, embedder, dim FROM orgs WHERE org_id = ?",
        (b.org_id,),
    ).fetchone()
    return OrgState(*state)


def apply_graph(db: sqlite3.Connection, org_id: str, delta: GraphDelta) -> None:
    ups, downs = [], []
    for node, d in delta.nodes.items():
        if d > 0:
            kind, label, props = delta.labels[node]
            ups.append((org_id, node, kind, label, json.dumps(props, sort_keys=True), d))
        elif d < 0:
            downs.append((d, org_id, node))
    db.executemany(
        "INSERT INTO graph_nodes (org_id, node_id, type, label, properties, record_count) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(org_id, node_id) "
        "DO UPDATE SET record_count = record_count + excluded.record_count, "
        "label = excluded.label, properties = excluded.properties",
        ups,
    )
    db.executemany(
        "UPDATE graph_nodes SET record_count = record_count + ? WHERE org_id = ? AND node_id = ?",
        downs,
    )
    if downs:
        db.executemany(
            "DELETE FROM graph_nodes WHERE org_id = ? AND node_id = ? AND record_count <= 0",
            [(org_id, node) for _, _, node in downs],
        )
    db.executemany(
        "INSERT INTO graph_edges (org_id, source, target, type, weight) VALUES (?, ?, ?, ?, ?) "
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
