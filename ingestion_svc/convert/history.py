"""Memory's stored records of a series, as the history a stream needs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.history import HISTORY_COLUMNS, day_numbers
from mesh.runtime.frames import date_column, enum_name


def history_rows(
    records: Sequence[md_pb.CausalMarketingData], account_key: str, first_day: int, last_day: int
) -> pd.DataFrame:
    """Stored records → the stream history's rows (one account, local days in range).

    Reads the twelve fields it needs straight from the messages: a late row's scan brings a
    campaign's month back, and decoding whole frames of them is far slower, on the stage's
    critical path."""
    sources = {v: enum_name("data_source", v) for v in {r.data_source for r in records}}
    keep = [r for r in records if f"{sources[r.data_source]}|{r.account_id}" == account_key]
    days = day_numbers(date_column([r.local_date for r in keep]))  # NaT: far below any day
    inside = (days >= first_day) & (days <= last_day)
    if not inside.all():
        keep = [r for r, ok in zip(keep, inside.tolist(), strict=True) if ok]
        days = days[inside]
    if not keep:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    natural = [r.natural_key for r in keep]
    klaviyo = account_key.startswith("klaviyo|")
    return pd.DataFrame(
        {
            "series": [k.rsplit("|", 1)[0] for k in natural],
            "account_key": account_key,
            "day": days,
            "spend": np.fromiter((r.spend for r in keep), np.float64, len(keep)),
            "conversions": np.fromiter((r.conversions for r in keep), np.float64, len(keep)),
            "revenue": np.fromiter((r.revenue for r in keep), np.float64, len(keep)),
            "version": np.fromiter((r.version for r in keep), np.int64, len(keep)),
            "sha": np.array([r.causal_metadata.raw_row_sha256 for r in keep], dtype=object),
            "campaign_id": np.array([r.campaign_id for r in keep], dtype=object),
            "campaign_key": (
                [p[2] if len(p) > 2 else "" for p in (k.split("|") for k in natural)]
                if klaviyo
                else [r.campaign_name for r in keep]
            ),
            "geo": np.array([r.geo for r in keep], dtype=object),
            "start": np.fromiter(
                (r.timestamp.seconds * 1_000_000 + r.timestamp.nanos // 1_000 for r in keep),
                np.int64,
                len(keep),
            ),
        }
    )


# --------------------------------------------------------------------- external factors
