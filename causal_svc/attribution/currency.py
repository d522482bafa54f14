"""The one currency an attribution's amounts are in, or a refusal.

Memory sums amounts as stored, whatever currency each record names (it converts none, nor
does ingestion: a row's currency is checked against its account's, AccountInfo.currency_code,
and kept). An org whose Meta account reports in EUR and whose orders are in USD would get an
iROAS of USD over EUR sums, so an analysis first reads which currencies the window's money is
in (AggregateRecords' ``currencies`` table) and goes on only when that is one.

Which money counts: every source's spend, and revenue when it is the outcome (the
first-party orders', and the platforms' claims the result reports beside it), over the
request's window — limited to the asked channels when the request names some (the
first-party outcome always counts). Rows with neither spend nor such revenue carry no money.
Records stored before memory kept currencies and whose payload names none read "": they are
taken to be in the one known currency when there is exactly one, and refused with the
others when there are several; with no known currency at all the amounts stay unlabelled
("", as before).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mesh.runtime.exceptions import FailedPrecondition

from .panel import FIRST_PARTY_SOURCE

__all__ = ["MixedCurrencies", "analysis_currency"]

UNKNOWN = ""


class MixedCurrencies(FailedPrecondition):
    """The window's spend and outcome are in more than one currency (FAILED_PRECONDITION,
    subject ``currency_code``: the records' field they differ in)."""

    default_reason = "MIXED_CURRENCIES"

    def __init__(self, message: str) -> None:
        super().__init__(message, subject="currency_code")


def analysis_currency(
    currencies: pd.DataFrame, *, outcome: str = "revenue", channels: Sequence[str] = ()
) -> str:
    """The single currency of the money an attribution reads (see the module docstring);
    ``currencies`` is AggregateRecords' table (``source``, ``channel``, ``currency``,
    ``spend``, ``revenue``, ``records``; empty from a memory that does not answer it: "").
    Raises :class:`MixedCurrencies` naming each currency and the sources/channels in it."""
    if not len(currencies):
        return UNKNOWN
    source = currencies["source"].astype(str)
    channel = currencies["channel"].astype(str)
    money = currencies["spend"].to_numpy(float) != 0
    if outcome == "revenue":
        money |= currencies["revenue"].to_numpy(float) != 0
    in_scope = source.eq(FIRST_PARTY_SOURCE) | (channel.isin(channels) if channels else True)
    held = currencies.loc[money & in_scope.to_numpy(bool)]
    found = sorted(set(held["currency"].astype(str)))
    known = [c for c in found if c != UNKNOWN]
    if len(known) <= 1:
        return known[0] if known else UNKNOWN
    raise MixedCurrencies(_message(held, found))


def _message(held: pd.DataFrame, found: list[str]) -> str:
    where = []
    for currency in found:
        rows = held.loc[held["currency"].astype(str) == currency]
        pairs = sorted({f"{s}/{c}" if c else s for s, c in zip(rows["source"].astype(str),
                                                               rows["channel"].astype(str),
                                                               strict=True)})  # fmt: skip
        label = currency or "no currency (records stored before memory kept currencies)"
        where.append(f"{label}: {', '.join(pairs)}")
    named = ", ".join(c for c in found if c)
    return (
        f"the window's spend and outcome are in {len([c for c in found if c])} currencies "
        f"({named}), and attribution would divide sums of one by sums of another — "
        + "; ".join(where)
        + ". LiftOS converts no currency (ingestion checks each row's currency against its "
        "account's, AccountInfo.currency_code, and stores the amounts as sent): ingest every "
        "source in one reporting currency — set the ad accounts to report in the orders' "
        "currency, or convert the rows to it before ingesting (a generic source's spend and "
        "revenue columns) — then analyse again"
    )
