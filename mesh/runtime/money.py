"""The one currency an analysis's amounts are in, or a refusal (attribution's money, and the
history surfacing plans with).

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

**Exchange rates.** An org may register a daily rate as an external series of kind
``fx_rate`` named ``fx_<from>_<to>`` (``fx_eur_usd``: USD per EUR). When the window's money
is in several currencies, the target is the first-party orders' currency (else the one with
the most spend), and each (source, channel) whose money is in one other currency is converted
day by day with the rate from its currency to the target (or 1 / the reverse rate): its spend
and platform revenue in the geo-day, campaign-day and campaign-geo-day sums. A day without a
rate takes the last one before it, for up to 7 days; a series of one value is a constant.
A pair holding two currencies cannot be converted from sums, and a currency without a rate
cannot be converted at all: both are refused, naming the pairs and the series to register.
Rates come from the org: LiftOS fetches none.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mesh.runtime.exceptions import FailedPrecondition

# the first-party orders' source as memory names it in its sums (DataSource GENERIC)
FIRST_PARTY_SOURCE = "generic"

__all__ = [
    "FX_KIND",
    "FX_NAME",
    "Converted",
    "FxSeries",
    "MixedCurrencies",
    "analysis_currency",
    "fx_series",
    "in_one_currency",
    "spend_in_outcome_currency",
]

UNKNOWN = ""
FX_KIND = "fx_rate"
MAX_STALE_DAYS = 7
# fx_<from>_<to> in lower-case ISO 4217 codes (the registry checks the codes exist)
FX_NAME = re.compile(r"fx_([a-z]{3})_([a-z]{3})")
_EPOCH = dt.date(1970, 1, 1)


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
    held = _held(currencies, outcome, channels)
    one = _single(held)
    if one is None:
        raise MixedCurrencies(_message(held, sorted(set(held["currency"].astype(str)))))
    return one


def _single(held: pd.DataFrame) -> str | None:
    """The one currency ``held`` money is in ("" when none is known; records naming none go
    with a single known one); None when it is in several known ones. Records naming none
    among several are refused: nothing says which they are in."""
    found = sorted(set(held["currency"].astype(str)))
    known = [c for c in found if c != UNKNOWN]
    if len(known) <= 1:
        return known[0] if known else UNKNOWN
    if UNKNOWN in found:
        raise MixedCurrencies(_message(held, found))
    return None


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
        + ". Ingestion stores amounts as sent (each row in its account's currency); "
        "attribution converts a channel with the org's registered exchange rate (an external "
        "series of kind fx_rate named fx_<from>_<to>, e.g. fx_eur_usd: liftos factors "
        "register), or ingest every source in one reporting currency — then analyse again"
    )


@dataclass(frozen=True, slots=True)
class FxSeries:
    """A registered exchange rate: units of ``to`` per unit of ``frm`` on each day."""

    name: str
    frm: str
    to: str
    days: np.ndarray  # int64 days since 1970-01-01, increasing
    rates: np.ndarray

    @staticmethod
    def parse(name: str, days: Sequence[dt.date], values: Sequence[float]) -> FxSeries | None:
        m = FX_NAME.fullmatch(name)
        if m is None or not len(days):
            return None
        d = np.array([(x - _EPOCH).days for x in days], dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        order = np.argsort(d, kind="stable")
        return FxSeries(name, m.group(1).upper(), m.group(2).upper(), d[order], v[order])

    def at(self, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each date's rate and whether it has one (a constant covers every day; else the
        last value on or before the date, at most MAX_STALE_DAYS old)."""
        if self.days.size == 1:
            return np.full(dates.shape, self.rates[0]), np.ones(dates.shape, dtype=bool)
        i = np.searchsorted(self.days, dates, side="right") - 1
        ok = i >= 0
        j = np.clip(i, 0, None)
        ok &= (dates - self.days[j]) <= MAX_STALE_DAYS
        return np.where(ok, self.rates[j], np.nan), ok


@dataclass(frozen=True, slots=True)
class Converted:
    """The sums in one currency: what was converted is said in ``notes``."""

    geo_days: pd.DataFrame
    campaign_days: pd.DataFrame
    campaign_geo_days: pd.DataFrame | None
    currency: str
    notes: tuple[str, ...] = ()


def _held(currencies: pd.DataFrame, outcome: str, channels: Sequence[str]) -> pd.DataFrame:
    source = currencies["source"].astype(str)
    channel = currencies["channel"].astype(str)
    money = currencies["spend"].to_numpy(float) != 0
    if outcome == "revenue":
        money |= currencies["revenue"].to_numpy(float) != 0
    in_scope = source.eq(FIRST_PARTY_SOURCE) | (channel.isin(channels) if channels else True)
    return currencies.loc[money & in_scope.to_numpy(bool)]


def in_one_currency(
    geo_days: pd.DataFrame,
    campaign_days: pd.DataFrame,
    campaign_geo_days: pd.DataFrame | None,
    currencies: pd.DataFrame,
    fx: Sequence[FxSeries],
    *,
    outcome: str = "revenue",
    channels: Sequence[str] = (),
) -> Converted:
    """The sums with every amount in one currency (see the module docstring): unchanged when
    the window's money is in one already; converted with the org's registered rates when it is
    in several; else :class:`MixedCurrencies` naming what cannot be converted."""
    if not len(currencies):
        return Converted(geo_days, campaign_days, campaign_geo_days, UNKNOWN)
    held = _held(currencies, outcome, channels)
    one = _single(held)
    if one is not None:
        return Converted(geo_days, campaign_days, campaign_geo_days, one)
    known = sorted(set(held["currency"].astype(str)))
    target = _target(currencies, held)
    rates = _rates(fx)
    problems: list[str] = []
    moves: dict[tuple[str, str], tuple[str, FxSeries, bool]] = {}
    for (src, ch), rows in held.groupby([held["source"].astype(str), held["channel"].astype(str)]):
        held_in = sorted(set(rows["currency"].astype(str)))
        if held_in == [target]:
            continue
        pair = f"{src}/{ch}" if ch else src
        if len(held_in) > 1:
            problems.append(f"{pair} holds money in {' and '.join(held_in)}: its sums cannot "
                            "be converted apart (ingest it in one currency)")  # fmt: skip
            continue
        series, inverse = _rate(rates, held_in[0], target)
        if series is None:
            problems.append(f"{pair} is in {held_in[0]} and no rate to {target} is registered "
                            f"(register fx_{held_in[0].lower()}_{target.lower()}, kind "
                            "fx_rate, with liftos factors register)")  # fmt: skip
            continue
        moves[(src, ch)] = (held_in[0], series, inverse)
    for (src, ch), (frm, series, _) in moves.items():
        _, ok = series.at(_spent_days(geo_days, campaign_days, src, ch))
        if not ok.all():
            problems.append(f"{src}/{ch} has {frm} money on days {series.name} does not cover "
                            f"(its values run {_day(series.days[0])} to "
                            f"{_day(series.days[-1])}; a day takes the last value at most "
                            f"{MAX_STALE_DAYS} days old)")  # fmt: skip
    if problems:
        raise MixedCurrencies(
            f"the window's money is in {', '.join(known)}; LiftOS converts to {target} "
            f"({_whose(currencies, target)}) with the org's registered exchange rates, but "
            + "; ".join(problems)
        )
    notes = []
    for (src, ch), (frm, series, inverse) in moves.items():
        geo_days = _convert_wide(geo_days, f"{src}:{ch}:", series, inverse)
        campaign_days = _convert_long(campaign_days, src, ch,
                                      ("spend", "revenue", "unreported_spend"), series,
                                      inverse)  # fmt: skip
        if campaign_geo_days is not None:
            campaign_geo_days = _convert_long(campaign_geo_days, src, ch, ("spend",), series,
                                              inverse)  # fmt: skip
        used = series.rates if not inverse else 1.0 / series.rates
        notes.append(f"{src}/{ch}: {frm} converted to {target} with {series.name} "
                     f"({'1 / ' if inverse else ''}rate {float(np.mean(used)):.4g} on average "
                     f"over its values)")  # fmt: skip
    return Converted(geo_days, campaign_days, campaign_geo_days, target, tuple(notes))


def spend_in_outcome_currency(
    records: pd.DataFrame, channel: str, fx: Sequence[FxSeries]
) -> tuple[pd.DataFrame, str]:
    """``records`` (a memory records frame) with ``channel``'s media spend in the first-party
    orders' currency, converted record by record with the org's rates as the module docstring
    says, and a note of what was converted ("" when nothing was); :class:`MixedCurrencies`
    when a currency has no rate or a day none. A lift test's iROAS divides the orders' outcome
    by this spend, so the two must be in one currency. Without orders naming a currency there
    is nothing to convert to."""
    if "currency_code" not in records or not len(records):
        return records, ""
    code = records["currency_code"].astype(str)
    first = records["data_source"].astype(str).eq(FIRST_PARTY_SOURCE)
    targets = sorted(set(code[first]) - {UNKNOWN})
    media = (~first & records["channel"].astype(str).eq(channel)).to_numpy(bool)
    media = media & (records["spend"].to_numpy(np.float64) != 0)
    foreign = sorted(set(code[media]) - {UNKNOWN} - set(targets))
    if len(targets) != 1 or not foreign:
        return records, ""
    target, rates = targets[0], _rates(fx)
    days = (pd.to_datetime(records["local_date"]).dt.normalize()
            - pd.Timestamp(_EPOCH)).dt.days.to_numpy(np.int64)  # fmt: skip
    spend = records["spend"].to_numpy(np.float64).copy()
    problems, notes = [], []
    for frm in foreign:
        rows = media & code.eq(frm).to_numpy(bool)
        series, inverse = _rate(rates, frm, target)
        if series is None:
            problems.append(f"{channel} is in {frm} and no rate to {target} is registered "
                            f"(register fx_{frm.lower()}_{target.lower()}, kind fx_rate, with "
                            "liftos factors register)")  # fmt: skip
            continue
        _, ok = series.at(days[rows])
        if not ok.all():
            problems.append(f"{channel} has {frm} spend on days {series.name} does not cover "
                            f"(e.g. {_day(days[rows][~ok][0])})")  # fmt: skip
            continue
        spend[rows] *= _factor(series, inverse, days[rows])
        notes.append(f"{channel}'s {frm} spend converted to {target} with {series.name}")
    if problems:
        raise MixedCurrencies(
            f"the test's outcome is in {target} and its spend in {', '.join(foreign)}; "
            + "; ".join(problems)
        )
    out = records.copy()
    out["spend"] = spend
    out.loc[media, "currency_code"] = target
    return out, "; ".join(notes)


def fx_series(
    external: Sequence[tuple[str, str, Sequence[dt.date], Sequence[float]]],
) -> list[FxSeries]:
    """The org's exchange rates among its registered series (name, geo, days, values); a
    geo-specific rate is not a thing, so only all-geo series count."""
    out = []
    for name, geo, days, values in external:
        s = FxSeries.parse(name, days, values) if not geo else None
        if s is not None:
            out.append(s)
    return out


def _whose(currencies: pd.DataFrame, target: str) -> str:
    """Why ``target`` is the currency converted to, in words."""
    first = currencies["source"].astype(str).eq(FIRST_PARTY_SOURCE)
    if (currencies.loc[first, "currency"].astype(str) == target).any():
        return "the orders' currency"
    return "the currency with the most spend; the window has no first-party orders"


def _rates(fx: Sequence[FxSeries]) -> Mapping[tuple[str, str], FxSeries]:
    return {(s.frm, s.to): s for s in fx}


def _rate(
    rates: Mapping[tuple[str, str], FxSeries], frm: str, to: str
) -> tuple[FxSeries | None, bool]:
    """The registered rate from ``frm`` to ``to``, else the reverse one (used inverted)."""
    series = rates.get((frm, to))
    if series is not None:
        return series, False
    return rates.get((to, frm)), True


def _target(currencies: pd.DataFrame, held: pd.DataFrame) -> str:
    first = currencies.loc[currencies["source"].astype(str).eq(FIRST_PARTY_SOURCE)]
    first_cur = sorted(set(first["currency"].astype(str)) - {UNKNOWN})
    if len(first_cur) == 1:
        return first_cur[0]
    spend = held.groupby(held["currency"].astype(str))["spend"].sum()
    return str(spend.idxmax())


def _spent_days(
    geo_days: pd.DataFrame, campaign_days: pd.DataFrame, src: str, ch: str
) -> np.ndarray:
    """The days the pair has money on (the days a rate is needed)."""
    if len(campaign_days) and "source" in campaign_days.columns:
        rows = campaign_days.loc[campaign_days["source"].astype(str).eq(src)
                                 & campaign_days["channel"].astype(str).eq(ch)]  # fmt: skip
        money = rows[[c for c in ("spend", "revenue") if c in rows.columns]].abs().sum(axis=1)
        return np.unique(rows.loc[money.to_numpy() > 0, "date"].to_numpy(np.int64))
    cols = [c for c in geo_days.columns if str(c).startswith(f"{src}:{ch}:")]
    if not cols:
        return np.zeros(0, np.int64)
    money = geo_days[cols].abs().sum(axis=1).to_numpy() > 0
    return np.unique(geo_days.loc[money, "date"].to_numpy(np.int64))


def _factor(series: FxSeries, inverse: bool, dates: np.ndarray) -> np.ndarray:
    rate, ok = series.at(dates)
    rate = np.where(ok, rate, 1.0)  # days without money (checked above) stay as they are
    return 1.0 / rate if inverse else rate


def _convert_wide(
    frame: pd.DataFrame, prefix: str, series: FxSeries, inverse: bool
) -> pd.DataFrame:
    cols = [c for c in frame.columns if str(c).startswith(prefix)
            and str(c).rsplit(":", 1)[-1] in ("spend", "revenue")]  # fmt: skip
    if not cols:
        return frame
    out = frame.copy()
    f = _factor(series, inverse, out["date"].to_numpy(np.int64))
    for c in cols:
        out[c] = out[c].to_numpy(np.float64) * f
    return out


def _convert_long(
    frame: pd.DataFrame, src: str, ch: str, columns: Sequence[str], series: FxSeries,
    inverse: bool,
) -> pd.DataFrame:  # fmt: skip
    if not len(frame):
        return frame
    rows = (frame["source"].astype(str).eq(src) & frame["channel"].astype(str).eq(ch)).to_numpy()
    if not rows.any():
        return frame
    out = frame.copy()
    f = _factor(series, inverse, out.loc[rows, "date"].to_numpy(np.int64))
    for c in columns:
        if c in out.columns:
            v = out[c].to_numpy(np.float64).copy()
            v[rows] *= f
            out[c] = v
    return out


def _day(d: int) -> str:
    return (_EPOCH + dt.timedelta(days=int(d))).isoformat()
