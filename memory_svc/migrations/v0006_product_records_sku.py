"""Each catalogue row's SKU (``product_records.sku``, R9-F1): AggregateProducts reads a
product report row named by a SKU that one catalogue product has as that product, whatever
was ingested first. The SQLite store's column (``memory_svc.product_table.SQLITE_SCHEMA``).

Rows stored before have sku "" here; the store fills the catalogue's from their payloads
once on open (``PostgresRecordStore.backfill_skus``, marked done by ``meta.product_sku`` = 1)
— SQL cannot read the serialised records."""

SQL = """
ALTER TABLE product_records ADD COLUMN IF NOT EXISTS sku TEXT COLLATE "C" NOT NULL DEFAULT '';
INSERT INTO meta VALUES ('product_sku', 0) ON CONFLICT (key) DO NOTHING;
"""
