"""Memory's AggregateRecords tables → the frames causal's readers take."""

from __future__ import annotations

import pandas as pd
from liftos.v1 import table_pb2 as table_pb

from mesh.runtime.aggregates import melt_campaign_geo_days
from mesh.runtime.tables import table_to_frame


def campaign_geo_frame(table: table_pb.Table) -> pd.DataFrame:
    """``campaign_geo_days`` (wide: a spend column per ``source:channel:campaign_id``) as the
    long rows ``confounders_retro.detect_budget_response`` takes for ``campaign_geo_days``:
    ``date`` (days since 1970-01-01), ``geo``, ``source``, ``channel``, ``campaign_id`` and
    ``spend``, one per cell with spend."""
    return melt_campaign_geo_days(table_to_frame(table, "campaign_geo_days"))


__all__ = ["campaign_geo_frame"]
