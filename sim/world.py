"""The entities of a simulated world: orgs, their platform accounts and campaigns.

Ids follow each platform's own format: Meta ad-account and campaign ids are long digit strings
(campaigns 18 digits), Google Ads customer ids 10 digits and campaign ids 11, TikTok advertiser
and campaign ids 19 digits, Klaviyo campaign and message ids 26-character ULIDs and segment ids
6 characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channels import BY_NAME, CHANNELS, SOURCES
from .geo import Geo

_ULID_ALPHABET = np.array(list("0123456789ABCDEFGHJKMNPQRSTVWXYZ"))
_ALNUM = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
_BRANDS = (
    "Northwind Outfitters",
    "Juniper & Pine",
    "Lumen Skincare",
    "Harbor Coffee Co",
    "Fieldstone Home",
    "Kestrel Running",
    "Marigold Pets",
    "Atlas Audio",
)
_FX_TO_USD = {"USD": 1.0, "EUR": 1.08, "CAD": 0.74, "GBP": 1.27}


@dataclass(frozen=True, slots=True)
class Account:
    """One platform account of an org (Meta ad account, Google Ads customer, ...)."""

    org_id: str
    source: str
    account_id: str
    name: str
    currency: str
    timezone: str
    fx_to_org: float  # org-currency units per account-currency unit (fixed over the run)


@dataclass(frozen=True, slots=True)
class Campaign:
    """One campaign; ``message_ids``/``segment`` apply to Klaviyo only."""

    org_id: str
    source: str
    account_id: str
    channel: str
    campaign_id: str
    name: str
    objective: str
    start_day: int
    end_day: int  # exclusive
    budget_share: float  # share of the channel's budget
    send_weekdays: tuple[int, ...]  # Klaviyo: days of week it sends on (0 = Monday)


@dataclass(frozen=True, slots=True)
class Org:
    org_id: str
    name: str
    currency: str
    timezone: str
    size: float  # multiplies base demand and budgets


@dataclass(frozen=True, slots=True)
class World:
    orgs: tuple[Org, ...]
    accounts: tuple[Account, ...]
    campaigns: tuple[Campaign, ...]  # grouped by org, then channel order
    geos: tuple[Geo, ...]
    klaviyo_segments: dict[str, dict[str, str]]  # org_id -> region code -> segment id
    klaviyo_messages: dict[str, dict[str, str]]  # campaign_id -> region code -> message id


def _digits(rng: np.random.Generator, prefix: str, n: int) -> str:
    return prefix + "".join(str(d) for d in rng.integers(0, 10, n - len(prefix)))


def _ulid(rng: np.random.Generator) -> str:
    return "01J" + "".join(_ULID_ALPHABET[rng.integers(0, 32, 23)])


def _alnum(rng: np.random.Generator, n: int) -> str:
    return "".join(_ALNUM[rng.integers(0, len(_ALNUM), n)])


def _campaign_counts(n: int) -> dict[str, int]:
    """Spread ``n`` campaigns over the channels by weight, at least one each."""
    weights = np.array([c.weight for c in CHANNELS])
    counts = np.maximum(1, np.floor(weights * n).astype(int))
    # Hand out the remainder to the largest fractional parts, deterministically.
    while counts.sum() < n:
        frac = weights * n - counts
        counts[int(np.argmax(frac))] += 1
    while counts.sum() > n and counts.max() > 1:
        counts[int(np.argmax(counts))] -= 1
    return {c.name: int(k) for c, k in zip(CHANNELS, counts, strict=True)}


def _campaign_name(channel: str, objective: str, k: int) -> str:
    names = {
        "meta_prospecting": f"US | Prospecting | {objective.removeprefix('OUTCOME_').title()} #{k}",
        "meta_retargeting": f"US | Retargeting | DPA 30d #{k}",
        "google_search": f"Search - {'Brand' if k == 1 else 'NonBrand'} - US #{k}",
        "google_pmax": f"{'PMax' if objective == 'PERFORMANCE_MAX' else 'Shopping'} - All Products #{k}",
        "klaviyo_email": f"Email - Weekly Newsletter #{k}",
        "klaviyo_sms": f"SMS - Drops & Offers #{k}",
        "tiktok": f"TT - Spark Ads - {objective.title().replace('_', ' ')} #{k}",
    }
    return names[channel]


def build_world(
    rng: np.random.Generator,
    *,
    n_orgs: int,
    geos: tuple[Geo, ...],
    n_campaigns: int,
    days: int,
    foreign_currency: bool,
    staggered_starts: bool,
) -> World:
    """Draw orgs, accounts and campaigns.

    ``foreign_currency`` puts each org's TikTok advertiser in EUR (a real-world mix that
    ingestion must convert); ``staggered_starts`` lets some campaigns start late or end early.
    """
    orgs, accounts, campaigns = [], [], []
    segments: dict[str, dict[str, str]] = {}
    messages: dict[str, dict[str, str]] = {}
    account_tz = {
        "meta": "America/Los_Angeles",
        "google_ads": "America/New_York",
        "klaviyo": "America/New_York",
        "tiktok": "America/Chicago",
    }
    for o in range(n_orgs):
        org_id = f"org_{o + 1:03d}"
        org = Org(
            org_id,
            _BRANDS[o % len(_BRANDS)],
            "USD",
            "America/New_York",
            float(rng.uniform(0.6, 1.4)) if o else 1.0,
        )
        orgs.append(org)
        acct_ids = {
            "meta": _digits(rng, "10", 16),
            "google_ads": _digits(rng, "", 10),
            "klaviyo": _alnum(rng, 6),
            "tiktok": _digits(rng, "70", 19),
        }
        for source in SOURCES:
            currency = "EUR" if (foreign_currency and source == "tiktok") else "USD"
            accounts.append(
                Account(
                    org_id,
                    source,
                    acct_ids[source],
                    f"{org.name} - {source}",
                    currency,
                    account_tz[source],
                    _FX_TO_USD[currency],
                )
            )
        segments[org_id] = {g.code: _alnum(rng, 6) for g in geos}
        for channel, count in _campaign_counts(n_campaigns).items():
            spec = BY_NAME[channel]
            shares = rng.dirichlet(np.full(count, 4.0))
            for k in range(count):
                objective = spec.objectives[k % len(spec.objectives)]
                if spec.source == "meta":
                    cid = _digits(rng, "1202", 18)
                elif spec.source == "google_ads":
                    cid = _digits(rng, "2", 11)
                elif spec.source == "tiktok":
                    cid = _digits(rng, "17", 19)
                else:
                    cid = _ulid(rng)
                start, end = 0, days
                if staggered_starts and k > 0 and rng.random() < 0.2:
                    start = int(rng.integers(1, max(2, days // 3)))
                if staggered_starts and k > 0 and rng.random() < 0.1:
                    end = int(rng.integers(max(start + 14, 2 * days // 3), days + 1))
                weekdays: tuple[int, ...] = ()
                if channel == "klaviyo_email":
                    weekdays = tuple(sorted(rng.choice(7, size=3, replace=False).tolist()))
                elif channel == "klaviyo_sms":
                    weekdays = (int(rng.integers(0, 7)),)
                campaigns.append(
                    Campaign(
                        org_id,
                        spec.source,
                        acct_ids[spec.source],
                        channel,
                        cid,
                        _campaign_name(channel, objective, k + 1),
                        objective,
                        start,
                        end,
                        float(shares[k]),
                        weekdays,
                    )
                )
                if spec.source == "klaviyo":
                    messages[cid] = {g.code: _ulid(rng) for g in geos}
    return World(tuple(orgs), tuple(accounts), tuple(campaigns), geos, segments, messages)
