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
A pair holding two currencies (two ad accounts of one platform, or two stores, billed in
different currencies) cannot be split from its sums: the caller reads that pair's records
(:func:`mixed_pairs` names them) and each record's amounts in another currency are converted
on its day and added into its geo-day, campaign-day and campaign-geo-day, exactly as a
one-currency pair's sums are. Without its records such a pair, and a currency without a rate,
are refused, naming the pairs and the series to register. Where the orders themselves are in
two currencies the target is the one with the most of their revenue. Each note gives the
window's amount before and after and the rate it came to, which is what a plan's figures in
the analysis currency are read back into the platform's currency with (:func:`converted_channels`).
Rates come from the org: LiftOS fetches none.
"""

from __future__ import annotations

import datetime as dt
import math
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
    "ChannelConversion",
    "Converted",
    "FxSeries",
    "MixedCurrencies",
    "analysis_currency",
    "converted_channels",
    "fx_direction",
    "fx_series",
    "in_one_currency",
    "mixed_pairs",
    "rate_words",
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
    records: pd.DataFrame | None = None,
) -> Converted:
    """The sums with every amount in one currency (see the module docstring): unchanged when
    the window's money is in one already; converted with the org's registered rates when it is
    in several; else :class:`MixedCurrencies` naming what cannot be converted. ``records``
    (a memory records frame: data_source, channel, campaign_id, geo, local_date, spend,
    revenue, currency_code, conversions_unreported) holds the window's records of the pairs
    :func:`mixed_pairs` names; other rows are ignored."""
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
    parts: dict[tuple[str, str, str], tuple[pd.DataFrame, FxSeries, bool]] = {}
    for (src, ch), rows in held.groupby([held["source"].astype(str), held["channel"].astype(str)]):
        held_in = sorted(set(rows["currency"].astype(str)))
        if held_in == [target]:
            continue
        pair = f"{src}/{ch}" if ch else src
        own = _pair_records(records, src, ch)
        if len(held_in) > 1 and own is None:
            problems.append(f"{pair} holds money in {' and '.join(held_in)} (accounts billed "
                            "in different currencies): its sums cannot be split by account, "
                            "and this call reads no records (attribution converts such a "
                            "channel record by record; here leave it out, or convert it before "
                            "ingesting)")  # fmt: skip
            continue
        for frm in [c for c in held_in if c != target]:
            series, inverse = _rate(rates, frm, target)
            clash = _disagreement(rates, frm, target)
            if clash is not None:
                problems.append(f"{pair} is in {frm}, but {clash}")
            elif series is None:
                problems.append(f"{pair} is in {frm} and no rate to {target} is registered "
                                f"(register fx_{frm.lower()}_{target.lower()}, kind "
                                "fx_rate, with liftos factors register)")  # fmt: skip
            elif len(held_in) == 1:
                moves[(src, ch)] = (frm, series, inverse)
            else:
                assert own is not None
                part = own.loc[own["currency_code"].astype(str).eq(frm).to_numpy(bool)]
                parts[(src, ch, frm)] = (part, series, inverse)
                _, ok = series.at(_record_days(part))
                if not ok.all():
                    problems.append(_stale(pair, frm, series))
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
        before = _pair_money(geo_days, campaign_days, src, ch)
        geo_days = _convert_wide(geo_days, f"{src}:{ch}:", series, inverse)
        campaign_days = _convert_long(campaign_days, src, ch,
                                      ("spend", "revenue", "unreported_spend"), series,
                                      inverse)  # fmt: skip
        if campaign_geo_days is not None:
            campaign_geo_days = _convert_long(campaign_geo_days, src, ch, ("spend",), series,
                                              inverse)  # fmt: skip
        after = _pair_money(geo_days, campaign_days, src, ch)
        notes.append(_note(src, ch, frm, target, series, inverse, before, after, ""))
    for (src, ch, frm), (part, series, inverse) in parts.items():
        before = _part_money(part)
        geo_days, campaign_days, campaign_geo_days = _convert_records(
            geo_days, campaign_days, campaign_geo_days, part, src, ch, series, inverse
        )
        after = _part_money(part, _factor(series, inverse, _record_days(part)))
        notes.append(_note(src, ch, frm, target, series, inverse, before, after, " (its records in "
                           f"{frm}; the rest is in {target} already)"))  # fmt: skip
    return Converted(geo_days, campaign_days, campaign_geo_days, target, tuple(notes))


def mixed_pairs(
    currencies: pd.DataFrame, *, outcome: str = "revenue", channels: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """The (source, channel) pairs whose window money is in more than one known currency:
    the pairs whose records :func:`in_one_currency` needs (empty for most orgs: a caller
    reads records only when this names some)."""
    if not len(currencies):
        return []
    held = _held(currencies, outcome, channels)
    held = held.loc[held["currency"].astype(str) != UNKNOWN]
    n = held.groupby([held["source"].astype(str), held["channel"].astype(str)])["currency"]
    return [(str(s), str(c)) for (s, c), k in n.nunique().items() if k > 1]


@dataclass(frozen=True, slots=True)
class ChannelConversion:
    """What a conversion note says of one channel's money in one currency."""

    channel: str
    frm: str  # the platform's (the account's) currency
    to: str  # the analysis currency
    series: str
    amount_from: float  # the window's amount in ``frm``
    amount_to: float  # the same in ``to``
    of: str  # "spend" or "revenue"
    part: bool  # only some of the channel's accounts are in ``frm``

    @property
    def rate(self) -> float:
        """Units of ``to`` per unit of ``frm`` over the window (its amounts' weighted rate)."""
        return self.amount_to / self.amount_from if self.amount_from else math.nan


_NOTE = re.compile(
    r"^(?P<src>[^/:]+)/(?P<ch>[^:]*): (?P<frm>[A-Z]{3}) converted to (?P<to>[A-Z]{3}) with "
    r"(?P<series>fx_[a-z]{3}_[a-z]{3}): the window's (?P<of>spend|revenue) (?P<a>[\d,.]+) "
    r"[A-Z]{3} is (?P<b>[\d,.]+) [A-Z]{3}(?P<part> \(its records in)?"
)


def converted_channels(warnings: Sequence[str]) -> list[ChannelConversion]:
    """The conversions an analysis's warnings state (the notes :func:`in_one_currency` makes),
    for a plan to name the platform's currency beside the analysis currency's figures."""
    out = []
    for w in warnings:
        m = _NOTE.match(w)
        if m is not None:
            out.append(ChannelConversion(
                m["ch"] or m["src"], m["frm"], m["to"], m["series"],
                float(m["a"].replace(",", "")), float(m["b"].replace(",", "")), m["of"],
                m["part"] is not None,
            ))  # fmt: skip
    return out


def _note(
    src: str, ch: str, frm: str, target: str, series: FxSeries, inverse: bool,
    before: tuple[float, float], after: tuple[float, float], part: str,
) -> str:  # fmt: skip
    """What was converted, with the window's amounts (spend, else revenue) before and after:
    the rate it came to is theirs, not the series' mean over days that hold no money."""
    of = 0 if before[0] else 1
    a, b = before[of], after[of]
    rate = rate_words(frm, target, b / a) if a else f"{frm} to {target} at no rate"
    return (f"{src}/{ch}: {frm} converted to {target} with {series.name}: the window's "
            f"{('spend', 'revenue')[of]} {a:,.2f} {frm} is {b:,.2f} {target}{part}; "
            f"{rate} over the window{_read_as(series, inverse)}")  # fmt: skip


def rate_words(frm: str, to: str, rate: float) -> str:
    """A rate with its quote direction said: "1 EUR = 1.08 USD". An EUR/USD rate entered the
    other way (0.93, EUR per USD) is as plausible a number as the right one (1.08); only
    the direction written out shows which it was read as (audit s17 R31)."""
    return f"1 {frm} = {rate:.4g} {to}"


def _read_as(series: FxSeries, inverse: bool) -> str:
    """How the series was read, when it was used inverted (its own direction)."""
    if not inverse:
        return f" ({series.name}: {series.to} per {series.frm})"
    return (f" ({series.name}, {series.to} per {series.frm}, inverted: its last value reads "
            f"{rate_words(series.frm, series.to, float(series.rates[-1]))})")  # fmt: skip


def fx_direction(name: str, days: Sequence[dt.date], values: Sequence[float]) -> str | None:
    """How an analysis reads a registered rate series, in words ("1 EUR = 1.08 USD" and its
    range), for the registry to echo; None for a series not named ``fx_<from>_<to>``."""
    series = FxSeries.parse(name, days, values)
    if series is None:
        return None
    last = rate_words(series.frm, series.to, float(series.rates[-1]))
    low, high = float(series.rates.min()), float(series.rates.max())
    spread = f" ({low:.4g} to {high:.4g} over its days)" if high > low else ""
    return (f"read as {last} on {_day(int(series.days[-1]))}{spread}; a rate quoted the other "
            f"way ({series.frm} per {series.to}) is wrong here: register its reciprocal, or "
            f"name the series fx_{series.to.lower()}_{series.frm.lower()}")  # fmt: skip


# Two registered rates of one pair, either way round, whose product (on days both hold)
# strays this far from 1: one of them was entered in the other quote direction (the two are
# then ~1.08 and ~0.93, a product of ~0.86 or ~1.17), not a bid/ask or a day's difference.
MAX_RECIPROCAL_GAP = 0.05


def _disagreement(rates: Mapping[tuple[str, str], FxSeries], frm: str, to: str) -> str | None:
    """Why the rates registered for ``frm``/``to`` both ways cannot both be right, or None."""
    there, back = rates.get((frm, to)), rates.get((to, frm))
    if there is None or back is None:
        return None
    days = np.union1d(there.days, back.days)
    a, ok_a = there.at(days)
    b, ok_b = back.at(days)
    ok = ok_a & ok_b
    if not ok.any():
        return None
    product = float(np.median(a[ok] * b[ok]))
    if abs(product - 1.0) <= MAX_RECIPROCAL_GAP:
        return None
    return (f"{there.name} and {back.name} are both registered and disagree: "
            f"{rate_words(frm, to, float(np.median(a[ok])))} by {there.name} but "
            f"{rate_words(frm, to, 1.0 / float(np.median(b[ok])))} by {back.name} (their product "
            f"is {product:.3g}, not 1): one of them is quoted the other way round; register it "
            "again with its reciprocal values (liftos factors register)")  # fmt: skip


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
        clash = _disagreement(rates, frm, target)
        if clash is not None:
            problems.append(f"{channel} is in {frm}, but {clash}")
            continue
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
        before = float(spend[rows].sum())
        spend[rows] *= _factor(series, inverse, days[rows])
        rate = rate_words(frm, target, float(spend[rows].sum()) / before) if before else ""
        notes.append(f"{channel}'s {frm} spend converted to {target} with {series.name}"
                     + (f": {rate} over the test's days{_read_as(series, inverse)}"
                        if rate else ""))  # fmt: skip
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
    held = set(currencies.loc[first, "currency"].astype(str)) - {UNKNOWN}
    if len(held) > 1 and target in held:
        return "the currency of most of the orders' revenue"
    if target in held:
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
    if first_cur:  # stores in two currencies: the one with most of the orders' revenue
        known = first.loc[first["currency"].astype(str) != UNKNOWN]
        return str(known.groupby(known["currency"].astype(str))["revenue"].sum().idxmax())
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


def _stale(pair: str, frm: str, series: FxSeries) -> str:
    return (f"{pair} has {frm} money on days {series.name} does not cover (its values run "
            f"{_day(series.days[0])} to {_day(series.days[-1])}; a day takes the last value at "
            f"most {MAX_STALE_DAYS} days old)")  # fmt: skip


def _pair_records(records: pd.DataFrame | None, src: str, ch: str) -> pd.DataFrame | None:
    """The pair's records with money in ``records`` (None when it holds none of them)."""
    if records is None or not len(records):
        return None
    rows = (records["data_source"].astype(str).eq(src)
            & records["channel"].astype(str).eq(ch)).to_numpy(bool)  # fmt: skip
    return records.loc[rows] if rows.any() else None


def _record_days(rows: pd.DataFrame) -> np.ndarray:
    return (pd.to_datetime(rows["local_date"]).dt.normalize()
            - pd.Timestamp(_EPOCH)).dt.days.to_numpy(np.int64)  # fmt: skip


def _unreported(rows: pd.DataFrame) -> np.ndarray:
    if "conversions_unreported" not in rows.columns:
        return np.zeros(len(rows), dtype=bool)
    return rows["conversions_unreported"].to_numpy(bool)


def _part_money(rows: pd.DataFrame, factor: np.ndarray | float = 1.0) -> tuple[float, float]:
    """The records' spend and counted revenue (a record whose conversions were not reported
    adds no revenue to the sums), times ``factor``."""
    spend = rows["spend"].to_numpy(np.float64) * factor
    revenue = np.where(_unreported(rows), 0.0, rows["revenue"].to_numpy(np.float64)) * factor
    return float(spend.sum()), float(revenue.sum())


def _pair_money(
    geo_days: pd.DataFrame, campaign_days: pd.DataFrame, src: str, ch: str
) -> tuple[float, float]:
    """The pair's spend and revenue in the sums (geo-day's; campaign-day's where geo-day has
    no such column)."""
    out = []
    for what in ("spend", "revenue"):
        col = f"{src}:{ch}:{what}"
        if col in geo_days.columns:
            out.append(float(geo_days[col].to_numpy(np.float64).sum()))
        elif len(campaign_days) and what in campaign_days.columns:
            rows = (campaign_days["source"].astype(str).eq(src)
                    & campaign_days["channel"].astype(str).eq(ch)).to_numpy(bool)  # fmt: skip
            out.append(float(campaign_days.loc[rows, what].to_numpy(np.float64).sum()))
        else:
            out.append(0.0)
    return out[0], out[1]


def _convert_records(
    geo_days: pd.DataFrame, campaign_days: pd.DataFrame, campaign_geo_days: pd.DataFrame | None,
    part: pd.DataFrame, src: str, ch: str, series: FxSeries, inverse: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:  # fmt: skip
    """The sums with ``part`` (the pair's records in one foreign currency) converted: each
    record's amounts times its day's rate, the difference added where the record was summed."""
    days = _record_days(part)
    grow = _factor(series, inverse, days) - 1.0
    d = pd.DataFrame({
        "date": days, "geo": part["geo"].astype(str).to_numpy(),
        "campaign_id": part["campaign_id"].astype(str).to_numpy(),
        "spend": part["spend"].to_numpy(np.float64) * grow,
        "revenue": np.where(_unreported(part), 0.0, part["revenue"].to_numpy(np.float64)) * grow,
        "unreported_spend": np.where(_unreported(part), part["spend"].to_numpy(np.float64), 0.0)
        * grow,
    })  # fmt: skip
    by_geo = d.groupby(["date", "geo"], sort=False)[["spend", "revenue"]].sum()
    geo_days = _add_wide(geo_days, by_geo, {w: f"{src}:{ch}:{w}" for w in ("spend", "revenue")})
    if len(campaign_days):
        by_campaign = d.groupby(["date", "campaign_id"], sort=False)[
            ["spend", "revenue", "unreported_spend"]].sum()  # fmt: skip
        campaign_days = _add_long(campaign_days, by_campaign, src, ch)
    if campaign_geo_days is not None and len(campaign_geo_days):
        per = d.groupby(["date", "geo", "campaign_id"], sort=False)[["spend"]].sum()
        if "source" in campaign_geo_days.columns:
            # the long rows causal passes (melt_campaign_geo_days), as _convert_long reads them;
            # read as wide, none of its columns matched and the spend stayed unconverted
            campaign_geo_days = _add_long(campaign_geo_days, per, src, ch)
        else:
            wide = per["spend"].unstack()
            campaign_geo_days = _add_wide(
                campaign_geo_days, wide, {str(k): f"{src}:{ch}:{k}" for k in wide.columns}
            )
    return geo_days, campaign_days, campaign_geo_days


def _add_long(frame: pd.DataFrame, add: pd.DataFrame, src: str, ch: str) -> pd.DataFrame:
    """``frame`` (long: date, [geo,] source, channel, campaign_id, amounts) plus ``add``
    (indexed by date, [geo,] campaign_id) on the pair's rows, in the columns both carry."""
    out = frame.copy()
    rows = (out["source"].astype(str).eq(src) & out["channel"].astype(str).eq(ch)).to_numpy()
    by = [n for n in add.index.names if n != "date"]
    keys = pd.MultiIndex.from_arrays(
        [out["date"].to_numpy(np.int64)[rows]] + [out[n].astype(str).to_numpy()[rows] for n in by]
    )
    aligned = add.reindex(keys).fillna(0.0)
    for c in add.columns:
        if c in out.columns:
            v = out[c].to_numpy(np.float64).copy()
            v[rows] += aligned[c].to_numpy(np.float64)
            out[c] = v
    return out


def _add_wide(frame: pd.DataFrame, add: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` (wide: date, geo, columns) plus ``add`` (indexed by date, geo) in the columns
    ``columns`` maps to; a column ``frame`` lacks (a sum left out as zero) is left alone."""
    present = {k: v for k, v in columns.items() if v in frame.columns}
    if not present or not len(frame):
        return frame
    out = frame.copy()
    keys = pd.MultiIndex.from_arrays([out["date"].to_numpy(np.int64),
                                      out["geo"].astype(str).to_numpy()])  # fmt: skip
    aligned = add.rename(columns=str).reindex(keys).fillna(0.0)
    for k, col in present.items():
        out[col] = out[col].to_numpy(np.float64) + aligned[k].to_numpy(np.float64)
    return out
