"""One commit's statements in the PostgreSQL store, in the caller's transaction: the batch's
rows by binary COPY, the versions it replaces moved to history, the sums and graph counts
updated set-wise (one ``unnest`` statement per table, not a statement per row), and the
org's state.

Seqs come from ``meta.next_seq`` under its row lock, held to the end of the transaction:
commits are serialised on it (as SQLite's single writer is), so seqs are given in commit
order across every process writing the database.

The writer decided insert / replace before the transaction, from what it read then; one
process decides and commits under one lock, but another memory process on the same database
may have committed the same ids meanwhile. Under the row lock the batch's identities are
checked again — the current records with its ids or natural keys must be exactly those it
replaces — and a batch decided on a stale view is refused (nothing written) with a
retryable error; a retry decides again against the new rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import numpy as np
import psycopg

from memory_svc.graph import GraphDelta
from memory_svc.product_table import PRODUCT_COLUMNS
from memory_svc.store import CommitBatch, CommitResult, OrgState, seq_checksum
from memory_svc.store_sql import SUMS_TABLES
from mesh.runtime.exceptions import DependencyUnavailable

__all__ = ["WriteConflict", "apply_graph", "insert_batch"]


class WriteConflict(DependencyUnavailable):
    """Another process wrote records of this batch after it was decided: retry (UNAVAILABLE;
    writes are idempotent)."""

    default_reason = "WRITE_CONFLICT"


_RECORD_COLUMNS = (
    "seq, org_id, id, natural_key, version, timestamp_us, source, campaign_id, campaign_name, "
    "channel, geo, experiment_id, treatment_group, quality, conceptual_space, graph_nodes, "
    "written_us"
)
_RECORD_TYPES = ["int8", "text", "text", "text", "int8", "int8", "text", "text", "text",
                 "text", "text", "text", "text", "float8", "text", "text", "int8"]  # fmt: skip
_MEASURE_TYPES = ["int8", "text", "int8", "text", "text", "text", "text",
                  "float8", "float8", "float8", "float8", "text", "int2", "text"]  # fmt: skip
# seq, then memory_svc.product_table.PRODUCT_COLUMNS
_PRODUCT_TYPES = ["int8", "text", "int8", *["text"] * 7, "int8", "int8", *["float8"] * 5,
                  "int8", "int8", "float8", "float8", "float8", "float8", "text"]  # fmt: skip


def _copy(
    cur: psycopg.Cursor, table: str, columns: str, types: list[str], rows: Iterable[Sequence]
) -> None:  # type: ignore[type-arg]
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


_SUMS_FROM_MEASURES = (
    "INSERT INTO {table} AS t (org_id, day, {key}, source, channel, spend, impressions, "
    "conversions, revenue, records) "
    "SELECT org_id, day, {key}, source, channel, {sign}SUM(spend), "
    "{sign}SUM(impressions), {sign}SUM(conversions), {sign}SUM(revenue), {sign}COUNT(*) "
    "FROM measures WHERE {where} GROUP BY org_id, day, {key}, source, channel "
    "ON CONFLICT (org_id, day, {key}, source, channel) DO UPDATE SET "
    "spend = t.spend + excluded.spend, impressions = t.impressions + excluded.impressions, "
    "conversions = t.conversions + excluded.conversions, "
    "revenue = t.revenue + excluded.revenue, records = t.records + excluded.records"
)


def _add_sums(cur: psycopg.Cursor, where: str, params: Sequence[object], sign: str) -> None:  # type: ignore[type-arg]
    """Add (``sign`` "") or take away ("-") the numbers of the measures rows ``where``
    chooses to every sums table, summed per key by PostgreSQL (no Python loop over the
    batch; as the SQLite store does since 783a371)."""
    for table, key in SUMS_TABLES:
        cur.execute(
            _SUMS_FROM_MEASURES.format(table=table, key=key, sign=sign, where=where), params
        )


def insert_batch(conn: psycopg.Connection, b: CommitBatch, n: int) -> CommitResult:
    """Store ``b`` (``n`` records) inside the caller's open transaction."""
    cur = conn.cursor()
    row = cur.execute(
        "UPDATE meta SET value = value + %s WHERE key = 'next_seq' RETURNING value - %s", (n, n)
    ).fetchone()
    assert row is not None, "meta.next_seq is missing (the first migration inserts it)"
    first = int(row[0])
    _check_identities(cur, b)
    seqs = np.arange(first, first + n, dtype=np.int64)
    seq_list = seqs.tolist()
    replaced = [(i, s, old) for i, (s, old) in enumerate(zip(seq_list, b.replaces, strict=True))
                if old]  # fmt: skip
    removed = np.array([old.seq for _, _, old in replaced], dtype=np.int64)
    if replaced:
        old_seqs = removed.tolist()
        cur.execute(
            "INSERT INTO history (org_id, id, natural_key, version, seq, replaced_at_seq, replaced_by_id, replaced_us, payload) "
            "SELECT r.org_id, r.id, r.natural_key, r.version, r.seq, "
            "u.new_seq, u.new_id, %s, p.payload "
            "FROM unnest(%s::int8[], %s::int8[], %s::text[]) AS u(old_seq, new_seq, new_id) "
            "JOIN records r ON r.seq = u.old_seq JOIN payloads p ON p.seq = r.seq",
            (b.now_us, old_seqs, [s for _, s, _ in replaced], [b.ids[i] for i, _, _ in replaced]),
        )
        _add_sums(cur, "seq = ANY(%s::int8[])", (old_seqs,), "-")
        for table in ("measures", "records", "payloads", "vectors", "product_records"):
            cur.execute(f"DELETE FROM {table} WHERE seq = ANY(%s::int8[])", (old_seqs,))
        regions = [(node.removeprefix("region:"), old.seq) for _, _, old in replaced
                   for node in old.graph_nodes if node.startswith("region:")]  # fmt: skip
        if regions:
            cur.execute(
                "DELETE FROM record_regions r USING unnest(%s::text[], %s::int8[]) AS u(region, seq) "
                "WHERE r.org_id = %s AND r.region = u.region AND r.seq = u.seq",
                ([g for g, _ in regions], [s for _, s in regions], b.org_id),
            )
    _copy(
        cur,
        "records",
        _RECORD_COLUMNS,
        _RECORD_TYPES,
        zip(
            seq_list, [b.org_id] * n, b.ids, b.natural_keys, b.versions, b.timestamps_us,
            b.sources, b.campaign_ids, b.campaign_names, b.channels, b.geos, b.experiment_ids,
            b.treatment_groups, b.qualities, b.primary_regions,
            ["\n".join(nodes) for nodes in b.graph_nodes], [b.now_us] * n,
            strict=True,
        ),
    )  # fmt: skip
    _copy(cur, "payloads", "seq, payload", ["int8", "bytea"],
          zip(seq_list, b.payloads, strict=True))  # fmt: skip
    m = np.nan_to_num(np.asarray(b.measures, dtype=np.float64))
    rows = [
        (s, b.org_id, d, g, src, ch, camp, *v, cur_, int(u), acc)
        for s, d, g, src, ch, camp, v, cur_, u, acc in zip(
            seq_list, b.days, b.geos, b.sources, b.channels, b.campaign_ids, m.tolist(),
            b.currencies, b.unreported, b.account_ids, strict=True,
        )
    ]  # fmt: skip
    _copy(cur, "measures", "seq, org_id, day, geo, source, channel, campaign_id, spend, "
          "impressions, conversions, revenue, currency, unreported, account_id", _MEASURE_TYPES,
          rows)  # fmt: skip
    _add_sums(cur, "seq >= %s AND seq < %s", (first, first + n), "")
    if b.products:
        _copy(cur, "product_records", "seq, " + ", ".join(PRODUCT_COLUMNS), _PRODUCT_TYPES,
              [(seq_list[i], *values) for i, values in b.products])  # fmt: skip
    emb = np.ascontiguousarray(b.embeddings, dtype="<f4")
    _copy(cur, "vectors", "seq, embedding", ["int8", "bytea"],
          ((s, emb[i].tobytes()) for i, s in enumerate(seq_list)))  # fmt: skip
    _copy(
        cur,
        "record_regions",
        "org_id, region, seq",
        ["text", "text", "int8"],
        ((b.org_id, region, s) for s, regions in zip(seq_list, b.regions, strict=True)
         for region in regions),
    )  # fmt: skip
    apply_graph(cur, b.org_id, b.graph)
    state = _update_org(cur, b, seqs, removed, n - len(replaced))
    return CommitResult(seqs, removed, state)


def _check_identities(cur: psycopg.Cursor, b: CommitBatch) -> None:  # type: ignore[type-arg]
    keys = sorted({k for k in b.natural_keys if k})
    now = cur.execute(
        "SELECT seq FROM records WHERE org_id = %s AND id = ANY(%s::text[]) UNION "
        "SELECT seq FROM records WHERE org_id = %s AND natural_key = ANY(%s::text[]) "
        "AND natural_key <> ''",
        (b.org_id, sorted(set(b.ids)), b.org_id, keys),
    ).fetchall()
    decided = {old.seq for old in b.replaces if old is not None}
    if {r[0] for r in now} != decided:
        raise WriteConflict(
            f"records of this batch for org {b.org_id!r} were written by another memory "
            "process after it was decided; nothing was stored, retry",
            dependency="postgresql",
            retry_after_s=0.05,
        )


def _update_org(
    cur: psycopg.Cursor, b: CommitBatch, seqs: np.ndarray, removed: np.ndarray, added: int
) -> OrgState:  # type: ignore[type-arg]
    row = cur.execute(
        "SELECT record_count, checksum FROM orgs WHERE org_id = %s", (b.org_id,)
    ).fetchone()
    count, checksum = row if row else (0, 0)
    checksum = checksum ^ seq_checksum(seqs) ^ seq_checksum(removed)
    max_seq = int(seqs[-1]) if len(seqs) else 0
    state = cur.execute(
        "INSERT INTO orgs (org_id, record_count, checksum, max_seq, embedder, dim, created_us, "
        "updated_us) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (org_id) DO UPDATE "
        "SET record_count = excluded.record_count, checksum = excluded.checksum, "
        "max_seq = excluded.max_seq, updated_us = excluded.updated_us "
        "RETURNING org_id, record_count, checksum, max_seq, embedder, dim",
        (b.org_id, count + added, checksum, max_seq, b.embedder, b.dim, b.now_us, b.now_us),
    ).fetchone()
    assert state is not None
    return OrgState(*state)


def apply_graph(cur: psycopg.Cursor, org_id: str, delta: GraphDelta) -> None:  # type: ignore[type-arg]
    ups: list[tuple[str, str, str, str, int]] = []
    downs: list[tuple[str, int]] = []
    for node, d in delta.nodes.items():
        if d > 0:
            kind, label, props = delta.labels[node]
            ups.append((node, kind, label, json.dumps(props, sort_keys=True), d))
        elif d < 0:
            downs.append((node, d))
    if ups:
        cols = list(zip(*ups, strict=True))
        cur.execute(
            "INSERT INTO graph_nodes AS g (org_id, node_id, type, label, properties, "
            "record_count) SELECT %s::text, * FROM unnest(%s::text[], %s::text[], "
            "%s::text[], %s::text[], %s::int8[]) ON CONFLICT (org_id, node_id) DO UPDATE SET "
            "record_count = g.record_count + excluded.record_count, label = excluded.label, "
            "properties = excluded.properties",
            (org_id, *(list(c) for c in cols)),
        )
    if downs:
        nodes, deltas = [x for x, _ in downs], [d for _, d in downs]
        cur.execute(
            "UPDATE graph_nodes g SET record_count = g.record_count + u.d "
            "FROM unnest(%s::text[], %s::int8[]) AS u(node_id, d) "
            "WHERE g.org_id = %s AND g.node_id = u.node_id",
            (nodes, deltas, org_id),
        )
        cur.execute(
            "DELETE FROM graph_nodes WHERE org_id = %s AND node_id = ANY(%s::text[]) AND record_count <= 0",
            (org_id, nodes),
        )
    edges = [(s, t, k, d) for (s, t, k), d in delta.edges.items() if d != 0]
    if edges:
        cols = list(zip(*edges, strict=True))
        cur.execute(
            "INSERT INTO graph_edges AS e (org_id, source, target, type, weight) "
            "SELECT %s::text, * FROM unnest(%s::text[], %s::text[], "
            "%s::text[], %s::int8[]) ON CONFLICT (org_id, source, target, type) DO UPDATE SET "
            "weight = e.weight + excluded.weight",
            (org_id, *(list(c) for c in cols)),
        )
    gone = [(s, t, k) for s, t, k, d in edges if d < 0]
    if gone:
        cols = list(zip(*gone, strict=True))
        cur.execute(
            "DELETE FROM graph_edges e USING unnest(%s::text[], %s::text[], %s::text[]) "
            "AS u(source, target, type) WHERE e.org_id = %s AND e.source = u.source "
            "AND e.target = u.target AND e.type = u.type AND e.weight <= 0",
            (*(list(c) for c in cols), org_id),
        )
