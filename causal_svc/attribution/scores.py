"""Attribution scores: per channel and per campaign, the incremental outcome, iROAS, marginal
ROAS and contribution share with intervals — beside what a user would have believed without
the model: the platforms' own claims and a naive regression.

Campaigns share their channel's response curve (the curve is a property of the channel's
audience and auction, and a campaign's spend rarely varies enough on its own to identify one),
so a campaign is credited with its channel's daily effect in proportion to its share of the
channel's adstocked input that day. Its interval is the channel's, scaled by that share.

A channel's intervals (incremental outcome, iROAS, marginal ROAS, response-curve bands) have a
lower bound above zero only where the sup-score test of "no effect" rejects
(:meth:`.inference.Evaluator.claim`); where it does not, the score's ``note`` says so. One
decision per channel covers all of them: iROAS is the incremental outcome per unit of spend
(the same interval scaled), a campaign's interval is its channel's scaled by its share, and the
contribution share is a point estimate. Instrumented fits cannot run the test
(:mod:`.null_test`): a lower bound above zero there is the Wald interval's, and the note says
that instead of passing it off as tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .inference import Evaluator, Interval
from .null_test import NullTest
from .panel import MediaPanel
from .transforms import apply_lags, lag_stack

__all__ = ["CampaignScore", "ChannelScore", "ResponseCurve", "campaign_scores", "channel_scores",
           "gated_baseline", "naive_roas", "response_curves"]  # fmt: skip

# Marginal ROAS: the curve's slope at the spend as run, by central difference of ±5% spend.
_MARGINAL_STEP = 0.05
CURVE_SCALES = np.round(np.linspace(0.0, 2.0, 21), 3)


@dataclass(frozen=True, slots=True)
class ChannelScore:
    """One channel's attribution.

    ``iroas`` and ``marginal_roas`` are per unit of spend (None for a channel without spend,
    whose input is impressions/sends); ``share`` is the channel's part of all media-caused
    outcome; ``naive_roas`` the coefficient of a pooled regression of the outcome on same-day
    spend; ``uncalibrated_iroas`` the estimate without lift tests, when any were used.
    """

    channel: str
    spend: float
    media_input: float
    incremental: Interval
    iroas: Interval | None
    marginal_roas: Interval | None
    share: float
    platform_outcome: float
    platform_roas: float | None
    naive_roas: float | None
    uncalibrated_iroas: float | None = None
    # share of spend whose platform conversions were not reported: platform_outcome sums the
    # reported part and platform_roas is over its spend (None when nothing was reported)
    platform_unreported_share: float = 0.0
    # Hansen's sup-score test of no effect, where the Wald interval claimed one (see
    # :mod:`.null_test`), and why a lower bound was set to zero, if it was.
    null_test: NullTest | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class CampaignScore:
    campaign: str
    channel: str
    spend: float
    incremental: Interval
    iroas: Interval | None
    platform_outcome: float
    platform_unreported_share: float = 0.0


@dataclass(frozen=True, slots=True)
class ResponseCurve:
    """Expected incremental outcome of a channel at spend levels around the spend as run."""

    channel: str
    spend: np.ndarray
    outcome: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def naive_roas(panel: MediaPanel) -> np.ndarray:
    """Pooled OLS of the geo-day outcome on each channel's same-day input, with an intercept:
    no adstock, saturation, time effects or confounders — the regression a user runs without
    a causal model. One coefficient per channel (outcome per unit of input)."""
    n = panel.n_geos * panel.n_days
    x = np.column_stack([np.ones(n), *(panel.media[c].ravel() for c in range(panel.n_channels))])
    coef, *_ = np.linalg.lstsq(x, panel.outcome.ravel(), rcond=None)
    return coef[1:]


def channel_scores(
    ev: Evaluator, uncalibrated: np.ndarray | None = None
) -> tuple[list[ChannelScore], Interval]:
    """Per-channel scores and the baseline outcome (outcome not caused by any channel)."""
    panel = ev.fit.panel
    naive = naive_roas(panel)
    effects = [ev.effect(c) for c in range(panel.n_channels)]
    total_effect = sum(v for v, _ in effects)
    grad_total = np.sum([g for _, g in effects], axis=0)
    outcome = float(panel.outcome.sum())
    baseline = ev.interval(outcome - total_effect, -grad_total, floor=None)
    out = []
    for c, (value, grad) in enumerate(effects):
        spend = float(panel.spend[c].sum())
        media = float(panel.media[c].sum())
        inc, test = ev.claim(c, ev.interval(value, grad))
        paid = spend > 0
        marg = None
        if paid:
            (up, down), g = ev.curve(c, np.array([1 + _MARGINAL_STEP, 1 - _MARGINAL_STEP]))
            step = 2 * _MARGINAL_STEP * spend
            marg, mtest = ev.claim(c, ev.interval((up - down) / step, (g[0] - g[1]) / step))
            test = test or mtest
        # A claim the test could not check (instrumented rows): say so.
        gone = _share(getattr(panel, "platform_unreported_share", None), c)
        reported_spend = spend * (1.0 - gone)
        untested = not ev.gate_available and (
            inc.lower > 0 or (marg is not None and marg.lower > 0)
        )
        out.append(
            ChannelScore(
                channel=panel.channels[c],
                spend=spend,
                media_input=media,
                incremental=inc,
                iroas=inc.scaled(1.0 / spend) if paid else None,
                marginal_roas=marg,
                share=value / total_effect if total_effect > 0 else 0.0,
                platform_outcome=float(panel.platform_outcome[c]),
                platform_roas=(
                    float(panel.platform_outcome[c]) / reported_spend
                    if paid and reported_spend > 0
                    else None
                ),
                platform_unreported_share=gone,
                naive_roas=float(naive[c]) if paid else None,
                uncalibrated_iroas=(
                    float(uncalibrated[c]) / spend if uncalibrated is not None and paid else None
                ),
                null_test=test,
                note=_note(panel.channels[c], test, inc.level, untested),
            )
        )
    return out, baseline


def gated_baseline(
    ev: Evaluator, channels: Sequence[ChannelScore], baseline: Interval
) -> tuple[Interval, str]:
    """The baseline's interval held to the test of no effect, and the note that says so.

    The baseline is the outcome less every channel's effect, so a channel whose effect the
    table does not establish (its lower bound at zero) could be taking nothing from it: the
    interval is widened to hold the baseline under every subset of those channels at zero
    (:meth:`.Evaluator.total`, as a plan's total is in :mod:`.counterfactual`); the estimate
    is unchanged. The subsets are a "without every channel" plan's (every channel whose lower
    bound is zero, its estimate zero or not: dropping it still moves the sum's variance), so
    the two answers agree.
    """
    loose = np.array([s.incremental.lower <= 0.0 for s in channels])
    if not loose.any():
        return baseline, ""
    effects = [ev.effect(c) for c in range(len(channels))]
    values = np.array([-v for v, _ in effects])
    grads = np.array([-g for _, g in effects])
    delta, widened = ev.total(values, grads, loose)
    if not widened:
        return baseline, ""
    outcome = baseline.estimate - delta.estimate
    names = ", ".join(s.channel for s, u in zip(channels, loose, strict=True) if u)
    note = (
        f"the baseline's {baseline.level:.0%} interval is widened to hold the outcome no "
        f"channel caused should {names} have no effect: their lower bounds are at zero"
    )
    # Effects are non-negative, so the baseline is at most the outcome (as a cut's is).
    upper = min(max(baseline.upper, delta.upper + outcome), outcome)
    return replace(baseline, lower=min(baseline.lower, delta.lower + outcome),
                   upper=upper), note  # fmt: skip


def _note(channel: str, test: NullTest | None, level: float, untested: bool = False) -> str:
    if untested:
        return (
            f"{channel}: the {level:.0%} interval's lower bound is the Wald interval's: the test "
            "of no effect that allows for the channel's carry-over and saturation shape "
            "(Hansen's sup-score) is not available for instrumented (two-stage least squares) "
            "fits, so that bound does not allow for the shape being unidentified at zero effect"
        )
    if test is None or test.p_value <= (1.0 - level) / 2.0:
        return ""
    return (
        f"{channel}: the {level:.0%} interval's lower bound is set to 0: a test of no effect "
        f"that allows for the channel's carry-over and saturation shape, which zero effect "
        f"leaves unidentified, does not reject (p = {test.p_value:.2f}, sup-score over "
        f"{test.shapes} shapes)"
    )


def response_curves(ev: Evaluator, scales: np.ndarray = CURVE_SCALES) -> list[ResponseCurve]:
    """Each channel's incremental outcome at ``scale ×`` its spend as run, with bands."""
    panel = ev.fit.panel
    out = []
    for c in range(panel.n_channels):
        values, grads = ev.curve(c, scales)
        # One df per curve (its points' variances come from the same weeks of spend): the
        # channel's own effect's.
        df = ev.df(ev.effect(c)[1])
        bands = [ev.claim(c, ev.interval(v, g, df=df))[0]
                 for v, g in zip(values, grads, strict=True)]  # fmt: skip
        spend = float(panel.spend[c].sum()) or float(panel.media[c].sum())
        out.append(
            ResponseCurve(
                channel=panel.channels[c],
                spend=scales * spend,
                outcome=values,
                lower=np.array([b.lower for b in bands]),
                upper=np.array([b.upper for b in bands]),
            )
        )
    return out


def campaign_scores(ev: Evaluator, channels: list[ChannelScore]) -> list[CampaignScore]:
    """Campaigns credited with their channel's daily effect by adstocked input share.

    Each campaign's interval is its channel's scaled by its fraction of the channel's
    estimate. Where that estimate is 0 (the fit's β at its bound) every day's credit is 0, so
    the fraction is read from what still exists: the campaign's share of the channel's
    adstocked input over the window, times the part of the channel's input on days its
    campaigns ran. A channel's campaigns' fractions sum to 1 when they cover its days, and a
    channel with one such campaign credits it with exactly the channel's interval.
    """
    from .features import channel_curve

    fit = ev.fit
    panel = fit.panel
    if not panel.campaigns:
        return []
    daily = fit.contributions().sum(axis=1)  # (C, T)
    out = []
    for c in range(panel.n_channels):
        members = np.flatnonzero(panel.campaign_channel == c)
        if members.size == 0:
            continue
        w = channel_curve(
            fit.layout, fit.theta, c, float(fit.inputs.k0[c]), fit.spec.max_lag
        ).weights
        adst = apply_lags(lag_stack(panel.campaign_media[members], fit.spec.max_lag), w)
        chan = channels[c]
        for k, frac in zip(members, _campaign_fractions(adst, daily[c], panel.media[c].sum(axis=0),
                                                        chan.incremental.estimate), strict=True):  # fmt: skip
            inc = chan.incremental.scaled(frac)
            spend = float(panel.campaign_spend[k].sum())
            out.append(
                CampaignScore(
                    campaign=panel.campaigns[k],
                    channel=panel.channels[c],
                    spend=spend,
                    incremental=inc,
                    iroas=inc.scaled(1.0 / spend) if spend > 0 else None,
                    platform_outcome=float(panel.campaign_platform_outcome[k]),
                    platform_unreported_share=_share(
                        getattr(panel, "campaign_platform_unreported_share", None), int(k)
                    ),
                )
            )
    return out


def _share(shares: np.ndarray | None, i: int) -> float:
    """Entry ``i`` of a panel's unreported shares; 0 where it has none (a panel built before
    them, or from sums that do not say)."""
    return float(shares[i]) if shares is not None and i < shares.size else 0.0


def _campaign_fractions(
    adst: np.ndarray, daily: np.ndarray, media: np.ndarray, estimate: float
) -> np.ndarray:
    """Each campaign's fraction of its channel: ``adst`` the campaigns' adstocked input (K, T),
    ``daily`` the channel's effect per day (T,), ``media`` its input per day (T,).

    Days split by the campaigns' adstocked input shares. The fractions are the shares of the
    part that the campaigns' days cover (the channel's effect, or its input where the effect
    is 0), times that part's fraction of the whole — 1 (exactly, by ``x / x``) when the
    campaigns ran on every day the channel had effect or input, so a lone campaign is its
    channel and campaigns sum to it.
    """
    total = adst.sum(axis=0)
    ran = total > 0
    share = np.divide(adst, total, out=np.zeros_like(adst), where=ran)
    if estimate > 0:
        credited = (share * daily).sum(axis=1)
        covered, whole = float(credited.sum()), float(estimate)
    else:
        # Zero effect credits nothing on any day: the fraction of the interval then follows
        # the campaigns' input over the window (its upper bound is spread as the input is).
        credited = adst.sum(axis=1)
        covered = float(media[ran].sum())
        whole = float(media.sum())
    if covered <= 0 or whole <= 0 or float(credited.sum()) <= 0:
        return np.zeros(adst.shape[0])
    part = covered / whole
    if abs(part - 1.0) < 1e-9:  # rounding of the same sum taken two ways
        part = 1.0
    return credited / float(credited.sum()) * part
