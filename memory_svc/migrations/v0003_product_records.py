"""The product table (issue 20): one row per current record of a product source, what
AggregateProducts sums — the SQLite store's ``product_records``
(``memory_svc.product_table.SQLITE_SCHEMA``) in PostgreSQL types, text ``COLLATE "C"``."""

SQL = """
CREATE TABLE IF NOT EXISTS product_records (
    seq BIGINT PRIMARY KEY, org_id TEXT COLLATE "C" NOT NULL, day BIGINT NOT NULL,
    source TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C" NOT NULL,
    currency TEXT COLLATE "C" NOT NULL, product_id TEXT COLLATE "C" NOT NULL,
    variant_id TEXT COLLATE "C" NOT NULL, category TEXT COLLATE "C" NOT NULL,
    title TEXT COLLATE "C" NOT NULL, quantity BIGINT NOT NULL,
    refunded_quantity BIGINT NOT NULL, gross DOUBLE PRECISION NOT NULL,
    discount DOUBLE PRECISION NOT NULL, net_sales DOUBLE PRECISION NOT NULL,
    refund DOUBLE PRECISION NOT NULL, spend DOUBLE PRECISION NOT NULL,
    impressions BIGINT NOT NULL, clicks BIGINT NOT NULL, conversions DOUBLE PRECISION NOT NULL,
    revenue DOUBLE PRECISION NOT NULL, list_price DOUBLE PRECISION NOT NULL,
    unit_cost DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS product_records_org ON product_records (org_id, source, day);
"""
