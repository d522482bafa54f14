"""The seven simulated channels, their platforms and their default response parameters.

Money is per million residents per day ("per-capita" below), so one set of numbers serves a
state of 0.6M and one of 39M. ``typical`` is the channel's usual daily input per million
residents (dollars, or recipients for Klaviyo email); ``target_return`` fixes the response
scale ``beta`` so that, at ``typical`` input, the channel returns that much incremental revenue
per unit of input (an iROAS for paid channels, revenue per recipient for email).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """Static description of one channel."""

    name: str
    source: str  # meta | google_ads | klaviyo | tiktok
    input: str  # "spend" or "sends": what drives the response
    typical: float  # typical daily input per million residents
    target_return: float  # incremental revenue per unit of input at `typical`
    adstock: str  # "geometric" or "weibull"
    decay: float  # geometric: share carried to the next day
    weibull_shape: float
    weibull_scale: float
    hill_shape: float
    k_ratio: float  # half-saturation point as a multiple of `typical`
    cpm: float  # dollars per 1,000 impressions (paid channels)
    ctr: float  # clicks per impression (email/SMS: clicks per recipient)
    recall: float  # share of truly incremental orders the platform attributes to itself
    overclaim: float  # share of baseline orders it claims at saturation (view-through etc.)
    weight: float  # share of an org's campaigns in this channel
    objectives: tuple[str, ...]


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "meta_prospecting",
        "meta",
        "spend",
        120.0,
        1.8,
        "weibull",
        0.0,
        1.6,
        4.0,
        1.2,
        1.0,
        9.0,
        0.012,
        0.8,
        0.05,
        0.25,
        ("OUTCOME_SALES", "OUTCOME_SALES", "OUTCOME_AWARENESS", "OUTCOME_TRAFFIC"),
    ),
    ChannelSpec(
        "meta_retargeting",
        "meta",
        "spend",
        40.0,
        0.7,
        "geometric",
        0.3,
        1.0,
        1.0,
        1.0,
        0.8,
        14.0,
        0.02,
        0.9,
        0.12,
        0.10,
        ("OUTCOME_SALES",),
    ),
    ChannelSpec(
        "google_search",
        "google_ads",
        "spend",
        100.0,
        1.2,
        "geometric",
        0.2,
        1.0,
        1.0,
        1.5,
        1.3,
        40.0,
        0.06,
        0.9,
        0.12,
        0.20,
        ("SEARCH",),
    ),
    ChannelSpec(
        "google_pmax",
        "google_ads",
        "spend",
        60.0,
        1.5,
        "geometric",
        0.4,
        1.0,
        1.0,
        1.3,
        1.0,
        12.0,
        0.015,
        0.85,
        0.08,
        0.10,
        ("PERFORMANCE_MAX", "SHOPPING"),
    ),
    ChannelSpec(
        "klaviyo_email",
        "klaviyo",
        "sends",
        20_000.0,
        0.02,
        "geometric",
        0.5,
        1.0,
        1.0,
        1.0,
        1.5,
        0.0,
        0.025,
        0.9,
        0.08,
        0.10,
        ("email",),
    ),
    ChannelSpec(
        "klaviyo_sms",
        "klaviyo",
        "spend",
        40.0,
        2.5,
        "geometric",
        0.2,
        1.0,
        1.0,
        1.0,
        1.2,
        0.0,
        0.08,
        0.9,
        0.05,
        0.05,
        ("sms",),
    ),
    ChannelSpec(
        "tiktok",
        "tiktok",
        "spend",
        60.0,
        1.2,
        "weibull",
        0.0,
        2.0,
        6.0,
        1.4,
        1.1,
        7.0,
        0.008,
        0.7,
        0.02,
        0.20,
        ("PRODUCT_SALES", "CONVERSIONS", "REACH", "TRAFFIC"),
    ),
)
CHANNEL_NAMES: tuple[str, ...] = tuple(c.name for c in CHANNELS)
BY_NAME: dict[str, ChannelSpec] = {c.name: c for c in CHANNELS}
SOURCES: tuple[str, ...] = ("meta", "google_ads", "klaviyo", "tiktok")
# Klaviyo SMS cost per recipient; email has no per-send cost in Klaviyo's reports.
SMS_COST_PER_RECIPIENT = 0.0107
