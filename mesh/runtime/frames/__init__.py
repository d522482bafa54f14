"""CausalMarketingData batches ↔ pandas columns: the one place that does this conversion.

The causal service turns Scan batches into DataFrames with :func:`records_to_frame`; the
ingestion service builds record batches from DataFrames with :func:`frame_to_records`; the
memory service reads the columns it embeds and indexes from the same frame. The column
schema is :data:`FRAME_SCHEMA` (fixed columns) plus :data:`DYNAMIC_COLUMNS` (one column per
confounder / external factor / economic indicator / conceptual space name).

Conventions
-----------
* One row per record, in input order; the index is a plain RangeIndex.
* Enums become their short lower-case names: ``DATA_SOURCE_META`` → ``"meta"``,
  ``TREATMENT_GROUP_NOT_IN_EXPERIMENT`` → ``"not_in_experiment"``, zero → ``"unspecified"``.
* ``timestamp`` and the metadata instants are ``datetime64[us, UTC]`` (NaT when unset);
  ``local_date`` and ``cal_date`` are naive ``datetime64[s]`` at midnight (NaT when unset).
* Optional lag features (proto3 ``optional``) are NaN when unset; a dynamic column is NaN / ""
  on rows that do not carry that name.
* Repeated strings (``knowledge_graph_nodes``, ``meta_notes``) are tuples in object columns.
* The calendar message is written back only when ``cal_date`` is set; the causal metadata only
  when any ``meta_`` / ``quality_`` column is non-default; a confounder/factor/indicator only
  where its value column is not NaN.
"""

from mesh.runtime.frames.decode import date_column, records_to_frame
from mesh.runtime.frames.encode import frame_to_records
from mesh.runtime.frames.enums import enum_name, enum_value
from mesh.runtime.frames.schema import (
    ALL_GROUPS,
    DYNAMIC_COLUMNS,
    FRAME_SCHEMA,
    HOLIDAY_COLUMNS,
    Column,
)

__all__ = [
    "ALL_GROUPS",
    "DYNAMIC_COLUMNS",
    "FRAME_SCHEMA",
    "HOLIDAY_COLUMNS",
    "Column",
    "date_column",
    "enum_name",
    "enum_value",
    "frame_to_records",
    "records_to_frame",
]
