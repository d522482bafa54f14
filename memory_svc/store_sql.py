"""The SQL of the SQLite store: its schema, and the queries built from a filter.

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
  in-memory key maps (``memory_svc.key_seqs``) built from ``records`` on an org's first write
  after start, not by SQL indexes (each random key costs a WAL page per record written);
  every candidate they give is confirmed against its row.
* ``measures`` — one row per current record: its local day (days since 1970-01-01), geo,
  source, channel, campaign, the four numbers attribution sums (spend, impressions,
  conversions, revenue) and the record's currency_code (added later: a database from before
  it has the column added and filled from the stored payloads once, ``backfill_currencies``;
  "" where a record names none), and ``unreported`` (1: the record's platform conversions
  were not reported, CausalMarketingData.conversions_unreported; read through a partial
  index, ``memory_svc.unreported``; added later, 0 on older rows), and ``account_id``
  (CausalMarketingData.account_id, what ListAccounts and DeleteRecords ask by:
  ``memory_svc.accounts``; added later, filled from the payloads once, ``backfill_accounts``).
* ``geo_day_sums`` / ``campaign_day_sums`` / ``currency_day_sums`` — those numbers summed per
  (day, geo | campaign | currency, source, channel), kept current by every commit (a record adds its numbers, the version it
  replaces takes its own away): what AggregateRecords reads. Summing 550k measures rows at
  read time cost seconds (an index walk plus a sort per query); the SQLite store reads an
  org's sums rows once per data version in key order (``GEO_DAY_ROWS``, ``CAMPAIGN_DAY_ROWS``)
  and pivots them with numpy (``memory_svc.org_sums``). ``AGGREGATE_PAIRS`` and
  ``geo_days_pivot_sql`` pivot in SQL (the PostgreSQL store's reads).
* ``orgs`` — per-org count, XOR checksum of ``splitmix64(seq)`` over current records, last
  seq, and the embedder the org was embedded with. The derived FAISS index is verified
  against (count, checksum) on start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from memory_svc.store import RecordFilter

__all__ = [
    "AGGREGATE_CAMPAIGN_DAYS",
    "AGGREGATE_PAIRS",
    "CAMPAIGN_DAY_ROWS",
    "CAMPAIGN_NAMES",
    "CURRENCY_DAY_ROWS",
    "GEO_DAY_ROWS",
    "REBUILD_SUMS",
    "SCHEMA",
    "SUMS_FROM_MEASURES",
    "SUMS_RETURNING",
    "SUMS_TABLES",
    "SUM_COLUMNS",
    "UPSERT_SUMS",
    "aggregate_filter",
    "chunks",
    "filter_sql",
    "geo_days_pivot_sql",
    "marks",
    "scan_sql",
]  # fmt: skip

CHUNK = 900  # bound parameters per IN (...) list

SCHEMA = """
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
-- Identity (org, id) and (org, natural_key) lookups are memory_svc.key_seqs maps, not indexes:
-- random keys cost a WAL page per record each (see key_seqs' docstring). Dropped if present.
DROP INDEX IF EXISTS records_id;
DROP INDEX IF EXISTS records_nk;
CREATE INDEX IF NOT EXISTS records_time ON records (org_id, timestamp_us, id);
-- campaign (+ time window: ingestion's history reads) is the most common selective filter.
-- Not (campaign, geo): a batch adds a row to each of its (campaign, geo) series, one index
-- leaf written per series; in time order new rows append at the end of their campaign's
-- range instead, which costs less per record written. A geo filter reads the rows.
DROP INDEX IF EXISTS records_campaign_geo;
CREATE INDEX IF NOT EXISTS records_campaign_time ON records (org_id, campaign_id, timestamp_us);
CREATE INDEX IF NOT EXISTS records_experiment ON records (org_id, experiment_id, treatment_group)
    WHERE experiment_id != '';
CREATE INDEX IF NOT EXISTS records_seq ON records (org_id, seq);
CREATE TABLE IF NOT EXISTS payloads (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS measures (
    seq INTEGER PRIMARY KEY, org_id TEXT NOT NULL, day INTEGER NOT NULL, geo TEXT NOT NULL,
    source TEXT NOT NULL, channel TEXT NOT NULL, campaign_id TEXT NOT NULL, spend REAL NOT NULL,
    impressions REAL NOT NULL, conversions REAL NOT NULL, revenue REAL NOT NULL,
    currency TEXT NOT NULL DEFAULT '', unreported INTEGER NOT NULL DEFAULT 0,
    account_id TEXT NOT NULL DEFAULT ''
);
-- measures are read by seq (take-away, backfill), whole (rebuild) or by account
-- (memory_svc.accounts.INDEX, created once the column exists): no day index, which cost a
-- b-tree insert per record written. Dropped if present.
DROP INDEX IF EXISTS measures_day;
CREATE TABLE IF NOT EXISTS geo_day_sums (
    org_id TEXT NOT NULL, day INTEGER NOT NULL, geo TEXT NOT NULL, source TEXT NOT NULL,
    channel TEXT NOT NULL, spend REAL NOT NULL, impressions REAL NOT NULL,
    conversions REAL NOT NULL, revenue REAL NOT NULL, records INTEGER NOT NULL,
    PRIMARY KEY (org_id, day, geo, source, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS campaign_day_sums (
    org_id TEXT NOT NULL, day INTEGER NOT NULL, campaign_id TEXT NOT NULL, source TEXT NOT NULL,
    channel TEXT NOT NULL, spend REAL NOT NULL, impressions REAL NOT NULL,
    conversions REAL NOT NULL, revenue REAL NOT NULL, records INTEGER NOT NULL,
    PRIMARY KEY (org_id, day, campaign_id, source, channel)
) WITHOUT ROWID;
-- per currency: which currencies an org's money is in (AggregateRecords' currencies table);
-- a day has a row per (currency, source, channel), ~3k rows a year for 8 source-channels
CREATE TABLE IF NOT EXISTS currency_day_sums (
    org_id TEXT NOT NULL, day INTEGER NOT NULL, currency TEXT NOT NULL, source TEXT NOT NULL,
    channel TEXT NOT NULL, spend REAL NOT NULL, impressions REAL NOT NULL,
    conversions REAL NOT NULL, revenue REAL NOT NULL, records INTEGER NOT NULL,
    PRIMARY KEY (org_id, day, currency, source, channel)
) WITHOUT ROWID;
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
-- a neighbourhood reads the edges ending at a node too (memory_svc.graph_sql)
CREATE INDEX IF NOT EXISTS graph_edges_by_target ON graph_edges (org_id, target);
"""


def chunks(values: Sequence[object], size: int = CHUNK) -> Iterator[Sequence[object]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def marks(n: int) -> str:
    return ",".join("?" * n)


def filter_sql(
    org_id: str, flt: RecordFilter, *, mark: str = "?", arrays: bool = False
) -> tuple[str, list[object]]:
    """SQL conditions on ``records r`` for an org and filter, with ``mark`` placeholders; a
    list binds as one array (``= ANY(…)``, PostgreSQL) with ``arrays``, else as ``IN (…)``."""
    clauses = [f"r.org_id = {mark}"]
    params: list[object] = [org_id]
    if flt.start_us is not None:
        clauses.append(f"r.timestamp_us >= {mark}")
        params.append(flt.start_us)
    if flt.end_us is not None:
        clauses.append(f"r.timestamp_us < {mark}")
        params.append(flt.end_us)
    for column, values in (
        ("source", flt.sources),
        ("campaign_id", flt.campaign_ids),
        ("treatment_group", flt.treatment_groups),
        ("geo", flt.geos),
        ("channel", flt.channels),
    ):
        if not values:
            continue
        if arrays:
            clauses.append(f"r.{column} = ANY({mark}::text[])")
            params.append(list(values))
        else:
            clauses.append(f"r.{column} IN ({','.join([mark] * len(values))})")
            params.extend(values)
    if flt.experiment_id:
        clauses.append(f"r.experiment_id = {mark}")
        params.append(flt.experiment_id)
    if flt.min_quality is not None:
        clauses.append(f"r.quality >= {mark}")
        params.append(flt.min_quality)
    if flt.region:
        clauses.append(
            f"r.seq IN (SELECT seq FROM record_regions WHERE org_id = {mark} AND region = {mark})"
        )
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
    before the LIMIT sorted the payload of every remaining match on every page. A campaign
    filter reads through the campaign index: without statistics (a new database) SQLite
    preferred the time index, whose order saves the sort but which reads every record in the
    window, so a series' short history cost a scan of every campaign's days.
    """
    where, params = filter_sql(org_id, flt)
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


_SUMS = "spend, impressions, conversions, revenue, records"
SUM_COLUMNS = ("spend", "impressions", "conversions", "revenue")
AGGREGATE_PAIRS = (
    "SELECT source, channel, SUM(spend != 0), SUM(impressions != 0), SUM(conversions != 0), "
    "SUM(revenue != 0), SUM(spend = 0 AND impressions = 0 AND conversions = 0 AND revenue = 0), "
    "SUM(records) FROM geo_day_sums WHERE {where} AND records > 0 "
    "GROUP BY source, channel ORDER BY source, channel"
)


def geo_days_pivot_sql(columns: Sequence[tuple[str, str, str]], where: str) -> str:
    """One row per (day, geo), one column per (source, channel, sum) — the key order of
    geo_day_sums, so SQLite aggregates in a single ordered pass with no sort. A quarter of the
    long format's values reach Python (the cost of a read is the rows it materialises)."""
    parts = [
        f"TOTAL(CASE WHEN source = ? AND channel = ? THEN {measure} END)"
        for _, _, measure in columns
    ]
    return (
        f"SELECT day, geo, {', '.join(parts) or '0'} FROM geo_day_sums WHERE {where} "
        "AND records > 0 GROUP BY day, geo ORDER BY day, geo"
    )


AGGREGATE_CAMPAIGN_DAYS = (
    f"SELECT day, campaign_id, source, channel, {_SUMS} FROM campaign_day_sums WHERE {{where}} "
    "AND records > 0 ORDER BY day, campaign_id, source, channel"
)
# Each campaign id's name: that of its latest current record that names one (by time, then
# seq) — one seek per id down records_campaign_time. Parameters: org, ids as a JSON array.
CAMPAIGN_NAMES = (
    "SELECT j.value, (SELECT r.campaign_name FROM records r WHERE r.org_id = ? "
    "AND r.campaign_id = j.value AND r.campaign_name != '' "
    "ORDER BY r.timestamp_us DESC, r.seq DESC LIMIT 1) FROM json_each(?) j"
)
# An org's sums rows in key order (no sort), as memory_svc.org_sums reads them.
GEO_DAY_ROWS = (
    f"SELECT day, geo, source, channel, {_SUMS} FROM geo_day_sums WHERE org_id = ? "
    "AND records > 0 ORDER BY day, geo, source, channel"
)
CAMPAIGN_DAY_ROWS = (
    f"SELECT day, campaign_id, source, channel, {_SUMS} FROM campaign_day_sums "
    "WHERE org_id = ? AND records > 0 ORDER BY day, campaign_id, source, channel"
)
CURRENCY_DAY_ROWS = (
    f"SELECT day, currency, source, channel, {_SUMS} FROM currency_day_sums "
    "WHERE org_id = ? AND records > 0 ORDER BY day, currency, source, channel"
)
# The sums tables and the measures column each keys on (besides day, source and channel).
SUMS_TABLES = (
    ("geo_day_sums", "geo"),
    ("campaign_day_sums", "campaign_id"),
    ("currency_day_sums", "currency"),
)
# Add ({sign} "") or take away ("-") the numbers of the measures rows chosen by {where} to a sums
# table ({key}: geo or campaign_id), summed per key by SQLite: no Python loop over the batch's
# rows. RETURNING gives each touched key's sums as stored after the change (the SQLite store
# patches an org's cached sums with them, memory_svc.org_sums).
SUMS_FROM_MEASURES = (
    "INSERT INTO {table} (org_id, day, {key}, source, channel, " + _SUMS + ") "
    "SELECT org_id, day, {key}, source, channel, {sign}SUM(spend), "
    "{sign}SUM(impressions), {sign}SUM(conversions), {sign}SUM(revenue), {sign}COUNT(*) "
    "FROM measures WHERE {where} GROUP BY org_id, day, {key}, source, channel "
    "ON CONFLICT DO UPDATE SET spend = spend + excluded.spend, "
    "impressions = impressions + excluded.impressions, "
    "conversions = conversions + excluded.conversions, revenue = revenue + excluded.revenue, "
    "records = records + excluded.records"
)
SUMS_RETURNING = f" RETURNING day, {{key}}, source, channel, {_SUMS}"
# Add (sign +1) or take away (-1) a batch's numbers: parameters (org, day, key, source,
# channel, spend, impressions, conversions, revenue, records).
UPSERT_SUMS = (
    "INSERT INTO {table} (org_id, day, {key}, source, channel, " + _SUMS + ") "
    "VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
    "spend = spend + excluded.spend, impressions = impressions + excluded.impressions, "
    "conversions = conversions + excluded.conversions, revenue = revenue + excluded.revenue, "
    "records = records + excluded.records"
)
# Recompute one sums table ({key} as in SUMS_TABLES) from measures: two statements.
REBUILD_SUMS = (
    "DELETE FROM {table}; "
    "INSERT INTO {table} (org_id, day, {key}, source, channel, " + _SUMS + ") "
    "SELECT org_id, day, {key}, source, channel, SUM(spend), "
    "SUM(impressions), SUM(conversions), SUM(revenue), COUNT(*) FROM measures "
    "GROUP BY org_id, day, {key}, source, channel"
)


def aggregate_filter(
    org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
) -> tuple[str, list[object]]:
    """Conditions on ``measures`` for an org, an inclusive day range and sources."""
    clauses = ["org_id = ?"]
    params: list[object] = [org_id]
    if start_day is not None:
        clauses.append("day >= ?")
        params.append(start_day)
    if end_day is not None:
        clauses.append("day <= ?")
        params.append(end_day)
    if sources:
        clauses.append(f"source IN ({marks(len(sources))})")
        params.extend(sources)
    return " AND ".join(clauses), params
