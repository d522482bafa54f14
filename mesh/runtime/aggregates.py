"""Memory's per day × geo sums as AggregateRecords sends them: one row per (day, geo) with a
``source:channel:measure`` column per non-zero sum. Memory names the columns here; readers
(causal's attribution panel, surfacing's history) melt them back here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MEASURES = ("spend", "impressions", "conversions", "revenue")


def sum_column(source: str, channel: str, measure: str) -> str:
    """The wide table's column of one (source, channel) sum."""
    return f"{source}:{channel}:{measure}"


def melt_geo_days(wide: pd.DataFrame, measures: Sequence[str] = MEASURES) -> pd.DataFrame:
    """The wide table as long rows: ``date`` (days since 1970-01-01, as sent), ``geo``,
    ``source``, ``channel`` and ``measures`` (0 where the sum was left out)."""
    pairs: dict[tuple[str, str], dict[str, str]] = {}
    for col in wide.columns:
        parts = str(col).split(":")
        if len(parts) == 3 and parts[2] in measures:
            pairs.setdefault((parts[0], parts[1]), {})[parts[2]] = str(col)
    if wide.empty or not pairs:
        return pd.DataFrame(columns=["date", "geo", "source", "channel", *measures])
    n = len(wide)
    out = []
    for (source, channel), cols in pairs.items():
        part = {"date": wide["date"].to_numpy(), "geo": wide["geo"].to_numpy(),
                "source": np.full(n, source, dtype=object),
                "channel": np.full(n, channel, dtype=object)}  # fmt: skip
        for m in measures:
            part[m] = wide[cols[m]].to_numpy(np.float64) if m in cols else np.zeros(n)
        out.append(pd.DataFrame(part))
    return pd.concat(out, ignore_index=True)


__all__ = ["MEASURES", "melt_geo_days", "sum_column"]
