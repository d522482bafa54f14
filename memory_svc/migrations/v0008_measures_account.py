"""Each record's ad account (``measures.account_id``, CausalMarketingData.account_id) with an
index of an org's rows by (account, source, day): ListAccounts groups the org's rows and
DeleteRecords picks an account's, both in SQL (``memory_svc.accounts``) instead of reading
every record's payload. The SQLite store's column and index.

Rows stored before have account_id "" here; the store fills them from their payloads once on
open (``PostgresRecordStore.backfill_accounts``, marked done by ``meta.measures_account`` = 1)
— SQL cannot read the serialised records."""

from memory_svc.accounts import INDEX

SQL = f"""
ALTER TABLE measures ADD COLUMN IF NOT EXISTS account_id TEXT COLLATE "C" NOT NULL DEFAULT '';
{INDEX};
INSERT INTO meta VALUES ('measures_account', 0) ON CONFLICT (key) DO NOTHING;
"""
