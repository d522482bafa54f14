"""Proto ↔ domain for the ingestion service, one module per RPC family. Bad input raises
InvalidInput naming the field."""

from ingestion_svc.convert.calendar import (
    calendar_day_to_proto,
    calendar_request,
    calendar_response,
)
from ingestion_svc.convert.experiments import (
    experiment_from_proto,
    experiment_target,
    experiment_to_proto,
    experiment_with_result,
    list_experiments_request,
    record_result_target,
)
from ingestion_svc.convert.factors import factor_series_from_proto, factor_series_to_proto
from ingestion_svc.convert.history import history_rows
from ingestion_svc.convert.ingest import (
    SOURCE_ENUM,
    SOURCES,
    ack,
    amender,
    decode_ingest_request,
    fingerprint,
    ingest_batch,
    replayed,
)

__all__ = [
    "SOURCES",
    "SOURCE_ENUM",
    "ack",
    "amender",
    "calendar_day_to_proto",
    "calendar_request",
    "calendar_response",
    "decode_ingest_request",
    "experiment_from_proto",
    "experiment_target",
    "experiment_to_proto",
    "experiment_with_result",
    "factor_series_from_proto",
    "factor_series_to_proto",
    "fingerprint",
    "history_rows",
    "ingest_batch",
    "list_experiments_request",
    "record_result_target",
    "replayed",
]
