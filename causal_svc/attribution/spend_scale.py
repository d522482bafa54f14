"""Is each channel's spend in the org's money unit? A plausibility check on spend per thousand
impressions (CPM), run while the panel is built (audit R4 F6).

A spend column ingested in cents (×100) or in micros (×1,000,000, as the Google Ads API's
``cost_micros``) passes every range check: the figures are valid numbers. Read as money, it
makes one channel 100× its true size, and the model credits it with most of the outcome and
takes the others' effects away (the audit's search at ×100 got a 96.9% share and erased the one
channel established on the clean data) with no warning. The channel's own impressions say it:
its CPM moves by the same factor while nothing else about it does. Three tests, on the
channels with both spend and impressions:

- **beyond any price**: a CPM above ``MAX_CPM`` (ad platforms charge a few dollars to a few
  hundred per thousand impressions; a micros column lands in the millions);
- **off its peers**: a CPM ``PEER_RATIO`` or more times the median of the other channels' CPMs
  and above ``MIN_PEER_CPM`` (ordinary mixes differ ~10×: search at $40 and TikTok at $7 in
  the simulator; a cents column of a channel priced like its peers is 100×);
- **a step in its own history**: the daily CPM's median after some day ``STEP_RATIO`` or more
  times (or 1/``STEP_RATIO`` of) its median before, each side at least ``MIN_STEP_DAYS``
  active days (a later batch exported in another unit; seasonal and auction swings are
  within 2-3×).

A fourth test needs no impressions, so it also covers a channel bought as spend only (TV,
print, OOH: Robyn's ``tv_S``; audit R18 F1, social in cents read 556M of spend against 181M of
revenue, every other channel's iROAS collapsed and nothing warned):

- **beyond the business's sales**: when the outcome is revenue, a channel whose spend over the
  panel's geos and days is ``MAX_SPEND_OF_REVENUE`` (1×) or more of the revenue over the same
  geos and days. Heavy spenders stay well below it (media budgets run at a few to ~30% of
  revenue in total, one channel a fraction of that), while a cents column of any channel
  above 1% of revenue crosses it (×100) and a micros one of any channel at all. A business
  that truly spends more on one channel than it sells (a launch) reads a REVIEW it can
  dismiss. The opposite slip (a "spend (000s)" column, ÷1,000) has no such tell: a channel
  1/500 of its peers is also what a pilot looks like, so it is not flagged; nor is a
  conversions outcome (a cost per order has no ceiling that holds across businesses).
  The ratio has two ends: the revenue may be the column in another unit. When the outcome's
  geo-days themselves show it (:func:`thousandths`: whole amounts written "70.034" for
  70,034, with '.' between thousands as German and French exports write them, read as
  decimals, a thousandth of the sales; s18 R34 F1, where every channel was told to divide its
  correct spend by 100), one finding names the revenue and ``liftos ingest --decimal ','``
  instead of one per channel; otherwise each channel's names the revenue as the other
  candidate.

The findings are
warnings and REVIEW health checks: a pricey channel can be real, so ROIs still print (a FAIL
would withhold every channel's and could not be overridden), but the checks name the channel,
its figure, the reference and the likely unit, and say every channel's estimate is affected
(the channels share one outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ScaleFinding", "spend_scale_findings"]

MAX_CPM = 5_000.0
PEER_RATIO = 50.0
MIN_PEER_CPM = 100.0
# MAX_CPM and MIN_PEER_CPM are in dollars; they hold for currencies whose unit is worth about
# as much (a CPM of 10,000 won or 50,000 rupiah is an ordinary price). Elsewhere only the
# unit-free tests run (the factor against peers, the step in a channel's own CPM).
DOLLAR_LIKE = frozenset({"", "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SGD"})
STEP_RATIO = 20.0
MIN_STEP_DAYS = 7
MAX_SPEND_OF_REVENUE = 1.0
# The outcome reads as thousands read as decimals when at least MIN_THOUSANDTHS of its
# geo-days have exactly three decimals, below 1,000 (what "1.234" to "999.999" read as), and
# they are at least half of the geo-days with a fraction, nearly all of which
# (THOUSANDTHS_SHARE) have at most three. Revenue in cents has at most two; a converted or
# modelled one has many; a grouped column has three on 9 values in 10 (one in ten ends in 0).
MIN_THOUSANDTHS = 3
THOUSANDTHS_SHARE = 0.9
# the first-party outcome's source (panel.FIRST_PARTY_SOURCE; panel imports this module)
_OUTCOME_ROWS = (
    "the first-party rows, ingested with the generic source: the column mapped to revenue"
)
# the share of revenue an ordinary channel spends, to read a ratio as a unit (3% ×100 = 3×)
_TYPICAL_SHARE = 0.03


@dataclass(frozen=True, slots=True)
class ScaleFinding:
    """A channel whose spend looks in another unit: its CPM, the reference it is compared
    with (peers' median, or its own before the step; 0 for the absolute test), the factor,
    the message, and the figure the test compared with its limit (``value``, ``limit``)."""

    channel: str
    cpm: float
    reference: float
    factor: float
    message: str
    value: float
    limit: float
    currency: str = ""
    basis: str = ""  # the figure in words when it is not a CPM (the revenue test)
    outcome: bool = False  # the outcome's revenue is the column in doubt, not the spend

    @property
    def reason(self) -> str:
        """The health check's words (the warning has the rest)."""
        if self.outcome:
            return (
                f"the outcome's revenue looks in another unit ({self.basis}; see the "
                "warnings): every channel's estimate is affected until it is fixed"
            )
        against = (f" against {_money(self.reference, self.currency)}"
                   if self.reference > 0 else "")  # fmt: skip
        figure = self.basis or (
            f"{_money(self.cpm, self.currency)} per thousand impressions{against}"
        )
        return (
            f"{self.channel}'s spend looks in another unit ({figure}; see the warnings): "
            "every channel's estimate is affected until the column is fixed"
        )


def _money(x: float, currency: str = "") -> str:
    if x >= 1e6:
        text = f"{x:,.3g}".replace("e+0", "e").replace("e+", "e")
    else:
        text = f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"
    return f"${text}" if currency in ("", "USD") else f"{text} {currency}"


def _likely_unit(factor: float) -> str:
    """The unit a spend ``factor`` times too large (or small, < 1) most likely comes from: the
    two that exports use, cents and micros (the factor against peers is only near a power of
    ten when the channel is priced like them, so it picks between those two)."""
    k = float(np.log10(factor)) if factor > 0 else 0.0
    if k >= 4.0:
        return "is it in micros (millionths: Google Ads' cost_micros)? divide by 1,000,000"
    if k >= 0:
        return "is it in cents? divide by 100"
    if k <= -4.0:
        return "was the rest in micros and this in currency units? the units differ by 1,000,000"
    return "is the rest in cents and this in currency units, or this in thousands? the units differ"


def _cpm(spend: np.ndarray, imps: np.ndarray) -> float:
    """Spend per thousand impressions over the cells that have both."""
    both = (spend > 0) & (imps > 0)
    s, n = float(spend[both].sum()), float(imps[both].sum())
    return 1000.0 * s / n if n > 0 else float("nan")


def _step(spend: np.ndarray, imps: np.ndarray, dates: np.ndarray) -> tuple[int, float, float]:
    """The largest sustained step of a channel's daily national CPM: (first day after it,
    median before, median after); (-1, nan, nan) when none is testable. Candidate days are the
    few largest day-to-day jumps (a unit switch is abrupt), each tested by the medians of
    every active day before and after it."""
    s, n = spend.sum(axis=0), imps.sum(axis=0)
    on = np.flatnonzero((s > 0) & (n > 0))
    if on.size < 2 * MIN_STEP_DAYS:
        return -1, float("nan"), float("nan")
    log_cpm = np.log10(1000.0 * s[on] / n[on])
    jumps = np.abs(np.diff(log_cpm))
    best = (-1, float("nan"), float("nan"), 0.0)
    for j in np.argsort(jumps)[::-1][:5] + 1:  # j: index (into on) of the first day after
        if j < MIN_STEP_DAYS or on.size - j < MIN_STEP_DAYS:
            continue
        # the split that separates the two levels best (a later one has the same medians)
        score = abs(log_cpm[j:].mean() - log_cpm[:j].mean()) * np.sqrt(j * (on.size - j))
        if score > best[3]:
            before, after = float(np.median(log_cpm[:j])), float(np.median(log_cpm[j:]))
            best = (int(on[j]), 10**before, 10**after, float(score))
    return best[0], best[1], best[2]


def spend_scale_findings(
    names: Sequence[str],
    spend: np.ndarray,
    imps: np.ndarray,
    dates: np.ndarray,
    report: Sequence[str] | None = None,
    currency: str = "",
    revenue: float | np.ndarray | None = None,
) -> list[ScaleFinding]:
    """Channels whose spend looks in another unit (module docstring), one finding each (the
    strongest test), or one for the outcome's revenue. ``spend``/``imps``: (C, G, T) over the
    panel's geos and ``dates``; every channel with both is a peer, ``report``: the channels to
    report on (None: all); ``currency``: the spend's (ISO code; "" unknown, read as dollars);
    ``revenue``: the outcome over the same geos and days when the outcome is revenue, per
    geo-day (G, T) or its total (None: it is not, and the test against it does not run)."""
    total = None if revenue is None else float(np.sum(revenue))
    grouped = thousandths(revenue) if isinstance(revenue, np.ndarray) else None
    beyond: list[ScaleFinding] = []  # the test against the revenue's findings
    dollars = currency in DOLLAR_LIKE
    min_peer_cpm, max_cpm = (MIN_PEER_CPM, MAX_CPM) if dollars else (0.0, float("inf"))

    def money(x: float) -> str:
        return _money(x, currency)

    cpm = np.array([_cpm(spend[i], imps[i]) for i in range(len(names))])
    priced = np.isfinite(cpm) & (cpm > 0)
    out: list[ScaleFinding] = []
    for i, name in enumerate(names):
        if report is not None and name not in report:
            continue
        if not priced[i]:
            found = _beyond_revenue(name, float(spend[i].sum()), total, currency)
            beyond.extend([found] if found else [])
            continue
        peers = priced.copy()
        peers[i] = False
        peer = float(np.median(cpm[peers])) if peers.any() else float("nan")
        shown = ", ".join(f"{names[k]} {money(cpm[k])}" for k in np.flatnonzero(peers)[:4])
        affects = (
            "; read as money it makes the channel that many times its size, and the model "
            "credits it with sales at every other channel's expense: no channel's estimate "
            "can be trusted until the column is fixed and re-ingested"
        )
        if peers.any() and cpm[i] >= PEER_RATIO * peer and cpm[i] >= min_peer_cpm:
            factor = cpm[i] / peer
            out.append(ScaleFinding(name, float(cpm[i]), peer, float(factor), (
                f"{name}'s spend per thousand impressions is {money(cpm[i])}, {factor:,.0f}× "
                f"its peers' median {money(peer)} ({shown}): its spend column looks in "
                f"another unit ({_likely_unit(factor)}){affects}"
            ), float(factor), PEER_RATIO, currency))  # fmt: skip
            continue
        if cpm[i] > max_cpm:
            out.append(ScaleFinding(name, float(cpm[i]), 0.0, float(cpm[i] / max_cpm), (
                f"{name}'s spend per thousand impressions is {money(cpm[i])}, beyond what ad "
                f"platforms charge (a few dollars to a few hundred): its spend column looks in "
                f"another unit ({_likely_unit(cpm[i] / 10.0)}){affects}"
            ), float(cpm[i]), max_cpm, currency))  # fmt: skip
            continue
        at, before, after = _step(spend[i], imps[i], dates)
        if at >= 0 and max(after / before, before / after) >= STEP_RATIO:
            factor = after / before
            out.append(ScaleFinding(name, after, before, float(factor), (
                f"{name}'s spend per thousand impressions goes from {money(before)} before "
                f"{dates[at]} to {money(after)} from then on (×{factor:,.3g}) against its own "
                f"impressions: the rows from {dates[at]} look in another unit "
                f"({_likely_unit(factor)}){affects}"
            ), float(max(factor, 1 / factor)), STEP_RATIO, currency))  # fmt: skip
            continue
        found = _beyond_revenue(name, float(spend[i].sum()), total, currency)
        beyond.extend([found] if found else [])
    if beyond and grouped is not None and total is not None:
        return [*out, _outcome_in_thousandths(beyond, total, grouped, currency)]
    return out + beyond


def thousandths(outcome: np.ndarray) -> tuple[float, int, int] | None:
    """The evidence that the outcome's values are whole amounts with '.' between thousands
    read as decimals (70,034 written "70.034", stored 70.034): a value so read, how many
    geo-days have exactly three decimals below 1,000, and how many have a fraction; None when
    the values do not read so (thresholds above :data:`MIN_THOUSANDTHS`)."""
    v = np.abs(np.asarray(outcome, dtype=float).ravel())
    v = v[np.isfinite(v) & (v > 0)]
    fraction = v[np.abs(v - np.round(v)) > 1e-9 * np.maximum(v, 1.0)]
    if fraction.size < MIN_THOUSANDTHS:
        return None

    def places(scale: float) -> np.ndarray:  # whether each has at most log10(scale) decimals
        x = fraction * scale
        return np.abs(x - np.round(x)) <= 1e-6 * np.maximum(x, 1.0)

    three = places(1000.0)
    exact = three & ~places(100.0) & (fraction < 1000.0)
    if (
        exact.sum() < MIN_THOUSANDTHS
        or exact.sum() < 0.5 * fraction.size
        or three.mean() < THOUSANDTHS_SHARE
        or (fraction[three] >= 1000.0).any()  # "1.234" reads below 1,000, never above
    ):
        return None
    return float(fraction[exact][0]), int(exact.sum()), int(fraction.size)


def _outcome_in_thousandths(
    beyond: list[ScaleFinding], revenue: float, grouped: tuple[float, int, int], currency: str
) -> ScaleFinding:
    """One finding for the outcome, in place of the channels' ``beyond`` (each flagged by the
    test against the revenue), when its values read as thousands read as decimals."""
    example, exact, fractional = grouped
    sold = _money(revenue, currency)
    worst = max(beyond, key=lambda f: f.factor)
    ratios = ", ".join(f"{f.channel} {f.factor:,.3g}×" for f in beyond)
    written = f"{example:.3f}"
    meant = written.replace(".", "")
    return ScaleFinding("", 0.0, 0.0, worst.factor, (
        f"the outcome's revenue ({_OUTCOME_ROWS}) looks a thousandth of the sales: "
        f"{exact:,} of its {fractional:,} geo-days with a fraction have exactly three "
        f"decimals and are below 1,000 (e.g. {written}), which is how whole amounts written "
        f"with '.' between thousands ('{written}' for {int(meant):,}, as German and French "
        f"exports write them) read as decimals. Against it, {len(beyond)} channel(s) spend "
        f"more than the business sells over the same geos and days ({sold} of revenue; "
        f"{ratios}), so their spend is likely right and the revenue is not: ingest the "
        "revenue file again with liftos ingest --decimal ',' (or with its thousands "
        "separators removed) to restate the stored rows. Until then every "
        "channel's estimate is read against a revenue a thousandth of the business's"
    ), worst.factor, MAX_SPEND_OF_REVENUE, currency,
        basis=(f"revenue {sold}, {worst.factor:,.3g}× below {worst.channel}'s spend, its "
               f"values like {written}: thousands read as decimals"),
        outcome=True)  # fmt: skip


def _beyond_revenue(
    name: str, total: float, revenue: float | None, currency: str
) -> ScaleFinding | None:
    """The test against the business's sales (module docstring): ``total``, the channel's
    spend over the panel, against ``revenue`` over the same geos and days."""
    if revenue is None or not revenue > 0 or total <= 0:
        return None
    ratio = total / revenue
    if ratio < MAX_SPEND_OF_REVENUE:
        return None
    spent, sold = _money(total, currency), _money(revenue, currency)
    return ScaleFinding(name, 0.0, 0.0, ratio, (
        f"{name}'s spend over the panel's geos and days is {spent}, {ratio:,.3g}× the "
        f"outcome's revenue over the same geos and days ({sold}): a channel rarely spends more "
        f"than the business sells, so its spend column looks in another unit "
        f"({_likely_unit(ratio / _TYPICAL_SHARE)}; if it truly outspends the sales, this can "
        f"be dismissed), or the revenue does ({_OUTCOME_ROWS}: in thousands, or a part of "
        "the sales?); read as money it makes the channel that many times its size, and the "
        "model credits it with sales at every other channel's expense: no channel's estimate "
        "can be trusted until the column is fixed and re-ingested"
    ), ratio, MAX_SPEND_OF_REVENUE, currency,
        basis=f"spend {spent}, {ratio:,.3g}× the outcome's revenue {sold}")  # fmt: skip
