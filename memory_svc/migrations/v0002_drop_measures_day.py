"""measures are read by seq only (take-away, the sums rebuilt from them) — never by day since
AggregateRecords reads the sums tables — so its day index only cost a b-tree insert per
record written (the SQLite store dropped its twin in 783a371)."""

SQL = "DROP INDEX IF EXISTS measures_day;"
