"""Budgets and delivery at campaign x geo x day: what the marketers planned, what the platforms
spent and delivered, and what each platform claims it drove.

Confounding is built into the plan: paid budgets are multiplied by
``exp(confounding * (log_index - mean_t log_index)) * affinity ** confounding`` — marketers
spend more where and when demand is high, using the same demand signals that drive sales.
Platform-attributed conversions over-claim: each platform credits itself with ``recall`` of
its true incremental orders plus a share of baseline orders that grows with its reach
(view-through and last-touch credit), split over campaigns by their input share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channels import BY_NAME, CHANNEL_NAMES, SMS_COST_PER_RECIPIENT
from .demand import Demand
from .outcomes import GAMMA_SHAPE_PER_ORDER
from .world import Campaign


@dataclass(frozen=True, slots=True)
class Inputs:
    """Reported inputs per campaign (C, G, T): money in account currency, recipients."""

    spend: np.ndarray  # float64, rounded to cents; 0 for Klaviyo email
    sends: np.ndarray  # int64 recipients; 0 for paid channels
    channel_of: np.ndarray  # (C,) index into CHANNEL_NAMES
    fx: np.ndarray  # (C,) org-currency units per account-currency unit


@dataclass(frozen=True, slots=True)
class Delivery:
    """Platform-reported delivery and attribution per campaign (C, G, T)."""

    impressions: np.ndarray
    clicks: np.ndarray
    delivered: np.ndarray
    opens: np.ndarray
    conversions: np.ndarray  # float64 (Google reports fractions)
    revenue: np.ndarray  # account currency, rounded to cents
    click_1d: np.ndarray  # Meta attribution-window split of conversions
    click_7d: np.ndarray
    view_1d: np.ndarray


def plan_inputs(
    rng: np.random.Generator,
    campaigns: list[Campaign],
    pop: np.ndarray,
    demand: Demand,
    confounding: float,
    org_size: float,
    weekdays: np.ndarray,
) -> np.ndarray:
    """Planned daily input per campaign (C, G, T): org-currency spend, or recipients for email.

    Parameters
    ----------
    rng : Generator
    campaigns : list of Campaign (one org)
    pop : ndarray (G,), millions
    demand : Demand
    confounding : float
        Elasticity of paid budgets to the demand index the marketers see.
    org_size : float
    weekdays : ndarray (T,), 0 = Monday

    Returns
    -------
    ndarray (C, G, T) float64
    """
    g, n = demand.log_index.shape
    dev = demand.log_index - demand.log_index.mean(axis=1, keepdims=True)
    chase = np.exp(confounding * dev) * (demand.affinity**confounding)[:, None]
    promo = np.asarray(demand.params["series"]["promo"], dtype=np.float64)  # type: ignore[index]
    t = np.arange(n)
    out = np.empty((len(campaigns), g, n))
    for i, c in enumerate(campaigns):
        spec = BY_NAME[c.channel]
        alloc = np.exp(rng.normal(0.0, 0.25, g))
        alloc /= alloc.mean()
        active = (t >= c.start_day) & (t < c.end_day)
        level = org_size * spec.typical * c.budget_share
        if c.source == "klaviyo":
            sendday = np.isin(weekdays, c.send_weekdays).astype(np.float64)
            cadence = sendday * (7.0 / len(c.send_weekdays)) * (1.0 + promo)
            noise = np.exp(rng.normal(0.0, 0.05, (g, n)))
            out[i] = level * (pop * alloc)[:, None] * cadence[None, :] * noise * active
            continue
        # Budget pacing: persistent log AR(1) drift plus step changes every 4-8 weeks.
        steps = np.zeros(n)
        day = int(rng.integers(20, 56))
        while day < n:
            steps[day:] += rng.normal(0.0, 0.15)
            day += int(rng.integers(28, 57))
        drift = np.empty(n)
        drift[0] = rng.normal(0.0, 0.1)
        eps = rng.normal(0.0, 0.1 * np.sqrt(1 - 0.9**2), n)
        for k in range(1, n):
            drift[k] = 0.9 * drift[k - 1] + eps[k]
        pacing = np.exp(drift + steps)
        noise = np.exp(rng.normal(0.0, 0.15, (g, n)))
        out[i] = level * (pop * alloc)[:, None] * (pacing * active)[None, :] * chase * noise
    return out


def realise_inputs(
    planned: np.ndarray, campaigns: list[Campaign], fx_by_account: dict[str, float]
) -> Inputs:
    """Round planned inputs to what platforms report: cents of account currency, whole sends."""
    channel_of = np.array([CHANNEL_NAMES.index(c.channel) for c in campaigns])
    fx = np.array([fx_by_account[c.account_id] for c in campaigns])
    spend = np.zeros_like(planned)
    sends = np.zeros(planned.shape, dtype=np.int64)
    for i, c in enumerate(campaigns):
        if c.channel == "klaviyo_email":
            sends[i] = np.rint(planned[i]).astype(np.int64)
        elif c.channel == "klaviyo_sms":
            sends[i] = np.rint(planned[i] / SMS_COST_PER_RECIPIENT).astype(np.int64)
            spend[i] = np.round(sends[i] * SMS_COST_PER_RECIPIENT, 2)
        else:
            spend[i] = np.round(planned[i] / fx[i], 2)
    return Inputs(spend, sends, channel_of, fx)


def campaign_input(inputs: Inputs) -> np.ndarray:
    """Each campaign's response input (C, G, T): org-currency spend, or recipients for email."""
    email = CHANNEL_NAMES.index("klaviyo_email")
    is_email = (inputs.channel_of == email)[:, None, None]
    return np.where(
        is_email, inputs.sends.astype(np.float64), inputs.spend * inputs.fx[:, None, None]
    )


def channel_inputs(inputs: Inputs) -> np.ndarray:
    """Daily input per channel (7, G, T): the sum over its campaigns, in campaign order."""
    per = campaign_input(inputs)
    out = np.zeros((len(CHANNEL_NAMES), *per.shape[1:]))
    for i in range(per.shape[0]):
        out[inputs.channel_of[i]] = out[inputs.channel_of[i]] + per[i]
    return out


def deliver(
    rng: np.random.Generator,
    inputs: Inputs,
    campaigns: list[Campaign],
    lam_base: np.ndarray,
    lam_channels: np.ndarray,
    x_channels: np.ndarray,
    pop: np.ndarray,
    yearly: np.ndarray,
    aov: float,
    cpm_index: dict[int, np.ndarray],
) -> Delivery:
    """Impressions, clicks, sends, and platform-attributed conversions and revenue.

    ``cpm_index`` maps a channel index to a (G, T) multiplier on its CPM (auction shocks).
    """
    shape = inputs.spend.shape
    imps = np.zeros(shape, dtype=np.int64)
    clicks = np.zeros(shape, dtype=np.int64)
    delivered = np.zeros(shape, dtype=np.int64)
    opens = np.zeros(shape, dtype=np.int64)
    conv = np.zeros(shape)
    rev = np.zeros(shape)
    c1 = np.zeros(shape, dtype=np.int64)
    c7 = np.zeros(shape, dtype=np.int64)
    v1 = np.zeros(shape, dtype=np.int64)
    per_input = campaign_input(inputs)
    k = GAMMA_SHAPE_PER_ORDER
    for i, c in enumerate(campaigns):
        spec = BY_NAME[c.channel]
        ch = inputs.channel_of[i]
        if c.source == "klaviyo":
            delivered[i] = rng.binomial(inputs.sends[i], 0.985)
            if c.channel == "klaviyo_email":
                opens[i] = rng.binomial(delivered[i], 0.4)
            clicks[i] = rng.binomial(delivered[i], spec.ctr)
        else:
            obj = 1.3 if c.objective in ("OUTCOME_AWARENESS", "REACH") else 1.0
            cpm = spec.cpm / obj * np.exp(0.3 * yearly[None, :] + rng.normal(0.0, 0.1, shape[1:]))
            if ch in cpm_index:
                cpm = cpm * cpm_index[ch]
            imps[i] = rng.poisson(inputs.spend[i] * inputs.fx[i] / cpm * 1000.0)
            ctr = spec.ctr * float(np.exp(rng.normal(0.0, 0.2))) * (0.6 if obj > 1 else 1.0)
            clicks[i] = rng.binomial(imps[i], min(ctr, 0.5))
        x = x_channels[ch]
        reach = x / (x + spec.typical * pop[:, None])
        claimed = spec.recall * lam_channels[ch] + spec.overclaim * lam_base * reach
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(x > 0, per_input[i] / x, 0.0)
        n = rng.poisson(share * claimed)
        value = rng.gamma(k * n, aov / k)
        if c.source == "google_ads":
            # Data-driven attribution reports fractional conversions.
            conv[i] = np.round(n * np.exp(rng.normal(0.0, 0.05, shape[1:])), 2)
        else:
            conv[i] = n
        if c.source == "meta":
            v1[i] = rng.binomial(n, 0.25)
            c7[i] = n - v1[i]
            c1[i] = rng.binomial(c7[i], 0.8)
        rev[i] = np.round(value / inputs.fx[i], 2)
    return Delivery(imps, clicks, delivered, opens, conv, rev, c1, c7, v1)
