"""Each record's currency (``measures.currency``) and its money summed per day × currency ×
source × channel (``currency_day_sums``): AggregateRecords says which currencies a window's
spend and revenue are in, so attribution refuses to add EUR to USD. The SQLite store's
layout (``memory_svc.store_sql``) in PostgreSQL types.

Rows stored before have currency "" here; the store fills them from their payloads once on
open (``PostgresRecordStore.backfill_currencies``, marked done by ``meta.measures_currency``
= 1) and recomputes ``currency_day_sums`` then — SQL cannot read the serialised records."""

SQL = """
ALTER TABLE measures ADD COLUMN IF NOT EXISTS currency TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS currency_day_sums (
    org_id TEXT COLLATE "C" NOT NULL, day BIGINT NOT NULL, currency TEXT COLLATE "C" NOT NULL,
    source TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL, impressions DOUBLE PRECISION NOT NULL,
    conversions DOUBLE PRECISION NOT NULL, revenue DOUBLE PRECISION NOT NULL,
    records BIGINT NOT NULL, PRIMARY KEY (org_id, day, currency, source, channel)
);
INSERT INTO currency_day_sums SELECT org_id, day, currency, source, channel, SUM(spend),
    SUM(impressions), SUM(conversions), SUM(revenue), COUNT(*) FROM measures
    GROUP BY org_id, day, currency, source, channel;
INSERT INTO meta VALUES ('measures_currency', 0) ON CONFLICT (key) DO NOTHING;
"""
