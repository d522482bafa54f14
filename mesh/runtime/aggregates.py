"""Memory's per day × geo sums as AggregateRecords sends them: one row per (day, geo) with a
``source:channel:measure`` column per non-zero sum (and ``source:channel:records`` for a pair
with an all-zero row). Memory names the columns here; readers
(causal's attribution panel, surfacing's history) melt them back here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MEASURES = ("spend", "impressions", "conversions", "revenue")
# A pair's records count per (day, geo): sent only for a (source, channel) with a row whose
# four sums are all zero in the window, so that such a row reads as present (a zero), not as
# missing; 0 where the pair has no row.
RECORDS = "records"


def sum_column(source: str, channel: str, measure: str) -> str:
    """The wide table's column of one (source, channel) sum."""
    return f"{source}:{channel}:{measure}"


def campaign_column(source: str, channel: str, campaign_id: str) -> str:
    """The campaign × geo × day table's spend column of one campaign (the campaign id may
    hold ':' itself: it is the last part)."""
    return f"{source}:{channel}:{campaign_id}"


def melt_campaign_geo_days(wide: pd.DataFrame) -> pd.DataFrame:
    """AggregateRecords' wide ``campaign_geo_days`` as long rows with spend: ``date`` (as
    sent), ``geo``, ``source``, ``channel``, ``campaign_id`` (categoricals: a year is ~0.5 M
    rows of a few hundred distinct strings) and ``spend``; cells without spend are left out."""
    names = [str(c) for c in wide.columns[2:]]
    spend = wide[names].to_numpy(np.float64) if names else np.zeros((len(wide), 0))
    row, col = np.nonzero(spend)  # row-major: (date, geo) order, campaigns in column order
    parts = [n.split(":", 2) for n in names]
    if any(len(p) != 3 for p in parts):
        raise ValueError(f"not source:channel:campaign_id columns: {names}")

    def by_column(i: int) -> pd.Categorical:
        codes, values = pd.factorize(np.array([p[i] for p in parts], dtype=object))
        return pd.Categorical.from_codes(codes[col], categories=values)

    geo = pd.Categorical(wide["geo"].to_numpy())
    return pd.DataFrame(
        {
            "date": wide["date"].to_numpy()[row],
            "geo": pd.Categorical.from_codes(geo.codes[row], dtype=geo.dtype),
            "source": by_column(0),
            "channel": by_column(1),
            "campaign_id": by_column(2),
            "spend": spend[row, col],
        }
    )


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


__all__ = [
    "MEASURES",
    "RECORDS",
    "campaign_column",
    "melt_campaign_geo_days",
    "melt_geo_days",
    "sum_column",
]
