"""Ingestion service: raw platform rows → CausalMarketingData, streamed, validated, durable in
memory; the experiment registry, the calendar and the external-factor registry.

Modules (domain ones import neither grpc nor gen/):

* ``stream``          one Ingest stream: ledger replay, history scans, in-order commits
* ``pipeline``        one batch end to end: ``prepare`` (connector, UTC, future dates) and
  ``finish`` (identity, dedupe, arrival order → records); ``record_columns`` the features
* ``raw_batch``       the batch as received and its parts (account, column map, rejections)
* ``parse``, ``connectors/``   raw rows → Python objects → one normalised frame per source
* ``row_identity``    natural key, id, version; new / duplicate / stale / restated; arrival
* ``history``         the stream's working set of stored rows; ``ledger`` acked batch ids
* ``lags``, ``calendar``, ``external_factors``, ``confounders``, ``assignment``, ``quality``
  the features and the registries (``experiments``, ``external_factors``) behind them
* ``convert``, ``service``, ``app``   the gRPC face; ``peers`` the outbound memory client
"""
