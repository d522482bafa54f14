"""``measures.unreported``: 1 where the record's platform conversions were not reported
(``CausalMarketingData.conversions_unreported``), with a partial index of those rows, which
AggregateRecords sums per campaign-day (``memory_svc.unreported``). Rows stored before the
flag existed carry none: 0."""

from memory_svc.unreported import INDEX

SQL = f"""
ALTER TABLE measures ADD COLUMN IF NOT EXISTS unreported SMALLINT NOT NULL DEFAULT 0;
{INDEX};
"""
