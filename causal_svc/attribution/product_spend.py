"""The org's product-report spend an attribution leaves out, in words (R10-F13).

AnalyzeAttribution reads the campaign exports only (memory's AggregateRecords over the
campaign sources): the platforms' product reports (Google Ads shopping_performance_view,
Meta insights by product_id) break their campaigns' spend down by product, carry no geo, and
read beside the campaign exports would count a Shopping or catalogue campaign twice where
those exports carry it too (ee486d0: summing every source counted the shopping spend and the
orders twice). They are AnalyzeProducts' input. Left out silently, a fifth of a shop's spend
(4.8M of 23.5M on the products simulator world) was absent from a table that reads as the
org's whole media picture while the product view credited that spend with 10.5M of revenue:
the answer now says how much, whose, and where it is analysed.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["product_spend_note"]


def product_spend_note(
    spend: pd.DataFrame,
    first_day: int,
    last_day: int,
    attributed: float,
    currency: str,
    channels: tuple[str, ...],
) -> str:
    """The warning for the product reports' spend over the analysed days ("" when none).

    Parameters
    ----------
    spend : DataFrame
        AggregateProducts' spend table (``date`` in days since 1970-01-01, ``source``,
        ``channel``, ``currency``, ``spend``).
    first_day, last_day : int
        The analysed days (days since 1970-01-01), inclusive.
    attributed : float
        The spend the model attributes over those days, in ``currency``.
    channels : tuple of str
        The model's channels: a product channel of the same name may be the same campaigns.
    """
    if spend.empty:
        return ""
    days = spend["date"].astype("int64")
    s = spend.loc[(days >= first_day) & (days <= last_day) & (spend["spend"] > 0)]
    if s.empty:
        return ""
    per = (
        s.groupby(["currency", "channel", "source"], sort=False)["spend"]
        .sum()
        .sort_values(ascending=False)
    )
    mine = per[per.index.get_level_values("currency") == currency] if currency else per
    other = per.drop(mine.index)
    amount = float(mine.sum())
    parts = [
        f"{ch} {v:,.0f} {cur} ({src})" for (cur, ch, src), v in (*mine.items(), *other.items())
    ]
    total = attributed + amount
    share = (
        f" ({amount / total:.0%} of the {total:,.0f}{' ' + currency if currency else ''} this model's spend and it add "
        "up to)"
        if total > 0 and amount > 0
        else ""
    )
    what = f"{amount:,.0f} {currency}".strip() if amount > 0 else "Spend"
    same = sorted(set(per.index.get_level_values("channel")) & set(channels))
    overlap = (
        f"; {', '.join(same)} is also a channel of this model, and may hold the same campaigns "
        "from the campaign export"
        if same
        else "; no channel of this model has their name, so unless the campaign export carries "
        "their campaigns under another channel, their effect on the outcome falls in this "
        "model's baseline or in the channels that move with them"
    )
    return (
        f"{what} of spend in the org's product reports over the analysed days{share} is not in "
        f"this model: {', '.join(parts)}. Product reports (spend per product, no geo) are left "
        "out of the attribution, which reads the campaign exports: a product report breaks its "
        "campaigns' spend down by product and, read beside an export that carries the same "
        f"campaigns, would count them twice{overlap}. That spend is analysed by "
        "`liftos analyze-products` (AnalyzeProducts)"
    )
