"""The record store's first schema: the SQLite store's layout (``memory_svc.store_sql``) in
PostgreSQL types.

Differences, and why:

* every text column is ``COLLATE "C"``: byte order, as SQLite compares, so a scan's
  (timestamp, id) pages come in the same order from either store, and btree comparisons
  skip the locale;
* identity — which current record has an id or natural key — is answered by indexes here,
  not by per-process key maps: several memory replicas may write one database, and an index
  is current for all of them;
* ``meta.next_seq`` is taken with a row lock by every commit, so seqs are given in commit
  order even across replicas (an index catching up "after seq s" then misses nothing);
* vectors are ``bytea`` (float32, little-endian, as in SQLite): FAISS stays the index.
"""

SQL = """
CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta VALUES ('next_seq', 1);
CREATE TABLE orgs (
    org_id TEXT COLLATE "C" PRIMARY KEY, record_count BIGINT NOT NULL, checksum BIGINT NOT NULL,
    max_seq BIGINT NOT NULL, embedder TEXT NOT NULL, dim INTEGER NOT NULL,
    created_us BIGINT NOT NULL, updated_us BIGINT NOT NULL
);
CREATE TABLE records (
    seq BIGINT PRIMARY KEY, org_id TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL,
    natural_key TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL,
    timestamp_us BIGINT NOT NULL, source TEXT COLLATE "C" NOT NULL,
    campaign_id TEXT COLLATE "C" NOT NULL, campaign_name TEXT NOT NULL,
    channel TEXT COLLATE "C" NOT NULL, geo TEXT COLLATE "C" NOT NULL,
    experiment_id TEXT COLLATE "C" NOT NULL, treatment_group TEXT COLLATE "C" NOT NULL,
    quality DOUBLE PRECISION NOT NULL, conceptual_space TEXT COLLATE "C" NOT NULL,
    graph_nodes TEXT NOT NULL, written_us BIGINT NOT NULL
);
CREATE INDEX records_id ON records (org_id, id);
CREATE INDEX records_nk ON records (org_id, natural_key) WHERE natural_key <> '';
CREATE INDEX records_time ON records (org_id, timestamp_us, id);
CREATE INDEX records_campaign_time ON records (org_id, campaign_id, timestamp_us);
CREATE INDEX records_experiment ON records (org_id, experiment_id, treatment_group)
    WHERE experiment_id <> '';
CREATE INDEX records_seq ON records (org_id, seq);
CREATE TABLE payloads (seq BIGINT PRIMARY KEY, payload BYTEA NOT NULL);
CREATE TABLE vectors (seq BIGINT PRIMARY KEY, embedding BYTEA NOT NULL);
CREATE TABLE measures (
    seq BIGINT PRIMARY KEY, org_id TEXT COLLATE "C" NOT NULL, day BIGINT NOT NULL,
    geo TEXT COLLATE "C" NOT NULL, source TEXT COLLATE "C" NOT NULL,
    channel TEXT COLLATE "C" NOT NULL, campaign_id TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL, impressions DOUBLE PRECISION NOT NULL,
    conversions DOUBLE PRECISION NOT NULL, revenue DOUBLE PRECISION NOT NULL
);
CREATE INDEX measures_day ON measures (org_id, day);
CREATE TABLE geo_day_sums (
    org_id TEXT COLLATE "C" NOT NULL, day BIGINT NOT NULL, geo TEXT COLLATE "C" NOT NULL,
    source TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL, impressions DOUBLE PRECISION NOT NULL,
    conversions DOUBLE PRECISION NOT NULL, revenue DOUBLE PRECISION NOT NULL,
    records BIGINT NOT NULL, PRIMARY KEY (org_id, day, geo, source, channel)
);
CREATE TABLE campaign_day_sums (
    org_id TEXT COLLATE "C" NOT NULL, day BIGINT NOT NULL, campaign_id TEXT COLLATE "C" NOT NULL,
    source TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL, impressions DOUBLE PRECISION NOT NULL,
    conversions DOUBLE PRECISION NOT NULL, revenue DOUBLE PRECISION NOT NULL,
    records BIGINT NOT NULL, PRIMARY KEY (org_id, day, campaign_id, source, channel)
);
CREATE TABLE record_regions (
    org_id TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL,
    PRIMARY KEY (org_id, region, seq)
);
CREATE TABLE history (
    org_id TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL,
    natural_key TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL, seq BIGINT NOT NULL,
    replaced_at_seq BIGINT NOT NULL, replaced_by_id TEXT COLLATE "C" NOT NULL,
    replaced_us BIGINT NOT NULL, payload BYTEA NOT NULL
);
CREATE INDEX history_by_seq ON history (org_id, replaced_at_seq);
CREATE INDEX history_by_key ON history (org_id, natural_key, version);
CREATE TABLE graph_nodes (
    org_id TEXT COLLATE "C" NOT NULL, node_id TEXT COLLATE "C" NOT NULL, type TEXT NOT NULL,
    label TEXT NOT NULL, properties TEXT NOT NULL, record_count BIGINT NOT NULL,
    PRIMARY KEY (org_id, node_id)
);
CREATE TABLE graph_edges (
    org_id TEXT COLLATE "C" NOT NULL, source TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL, type TEXT COLLATE "C" NOT NULL, weight BIGINT NOT NULL,
    PRIMARY KEY (org_id, source, target, type)
);
"""
