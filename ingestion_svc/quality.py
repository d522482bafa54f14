"""The causal quality score: how much a row can be trusted as causal evidence, in [0, 1].

Five components, each in [0, 1], weighted as the seed defines them::

    temporal consistency 0.25 + confounder coverage 0.30 + treatment assignment 0.20
    + outcome measurement 0.15 + external validity 0.10

The weights put identification (are the confounders measured? was treatment randomised?)
ahead of measurement, because an estimate on well-measured but confounded data is still
wrong (Hernán & Robins, *Causal Inference: What If*, ch. 7). Each component function below
documents exactly what it scores; every input is a per-row array.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EXPECTED_CONFOUNDER_INPUTS",
    "WEIGHTS",
    "confounder_coverage",
    "external_validity",
    "outcome_measurement",
    "quality_score",
    "temporal_consistency",
    "treatment_assignment",
]

WEIGHTS: dict[str, float] = {
    "temporal_consistency": 0.25,
    "confounder_coverage": 0.30,
    "treatment_assignment": 0.20,
    "outcome_measurement": 0.15,
    "external_validity": 0.10,
}

# What each platform's rows need measured to adjust for their usual confounders:
#   calendar    holidays and seasons of the account's country are known
#   weekly      ≥14 days of the series' own history (weekly seasonality is estimable)
#   budget      ≥7 days of spend history (a budget response is detectable)
#   macro / competitor / promotion / demand   a registered external series covers the day
EXPECTED_CONFOUNDER_INPUTS: dict[str, tuple[str, ...]] = {
    "meta": ("calendar", "weekly", "macro", "competitor", "promotion"),
    "tiktok": ("calendar", "weekly", "macro", "competitor", "promotion"),
    "google_ads": ("calendar", "weekly", "budget", "demand", "competitor", "promotion"),
    "klaviyo": ("calendar", "weekly", "promotion"),
    "generic": ("calendar", "weekly", "macro", "promotion"),
    "generic_media": ("calendar", "weekly", "macro", "competitor", "promotion"),
}


def temporal_consistency(
    out_of_order: np.ndarray,
    late_days: np.ndarray,
    tz_mismatch: np.ndarray,
    tz_ambiguous: np.ndarray,
) -> np.ndarray:
    """The record's day is certain and was delivered in order and on time.

    Starts at 1 and loses 0.3 for arriving after a later day of its series had come in an
    earlier pull (out of order), 0.05 per day that series had moved past it beyond the
    platform's normal delay (late; at most 0.4), 0.2 when the row's own offset disagrees
    with the account zone, and 0.2 when local midnight is ambiguous or skipped by a DST
    change. Floored at 0.

    Order and lateness are against earlier pulls: the lines of one export were pulled
    together, so a line placed after later days (the export's order) was not late, and its
    record is the same as in order (``meta_out_of_order`` / ``meta_late_days`` keep the
    line order). A day given as the UTC instant of the local midnight costs nothing: the
    connector accepts only that instant or the local midnight itself, so the conversion is
    exact (the record's note says it was converted).
    """
    score = (
        1.0
        - 0.3 * out_of_order
        - np.minimum(0.05 * late_days, 0.4)
        - 0.2 * tz_mismatch
        - 0.2 * tz_ambiguous
    )
    return np.clip(score, 0.0, 1.0)


def confounder_coverage(source: str, available: dict[str, np.ndarray]) -> np.ndarray:
    """Share of the platform's expected confounder inputs that are measured for the row.

    ``available`` maps each input name of :data:`EXPECTED_CONFOUNDER_INPUTS` to a boolean
    per row; an input missing from the dict counts as not measured.
    """
    expected = EXPECTED_CONFOUNDER_INPUTS[source]
    n = len(next(iter(available.values()))) if available else 0
    have = np.zeros(n)
    for name in expected:
        if name in available:
            have += np.asarray(available[name], dtype=np.float64)
    return have / len(expected)


def treatment_assignment(in_experiment: np.ndarray, history_days: np.ndarray) -> np.ndarray:
    """1 when a registered randomised experiment assigned the row's treatment.

    Observational rows score 0.2 plus up to 0.3 for their known history (a series observed
    over the 28 days before supports panel designs — DiD, synthetic control — better than
    an isolated day), so never more than 0.5: spend that nobody randomised is confounded
    until shown otherwise.
    """
    observational = 0.2 + 0.3 * np.minimum(history_days / 28.0, 1.0)
    return np.where(in_experiment, 1.0, observational)


def outcome_measurement(
    outcome_reported: np.ndarray,
    conversions: np.ndarray,
    revenue: np.ndarray,
    attribution_ok: np.ndarray,
    modelled: np.ndarray,
) -> np.ndarray:
    """Outcome fields complete and internally consistent: the mean of four checks.

    (1) the conversions were reported (or are zero by the platform's convention of omitting
    zeros), (2) revenue and conversions agree on whether anything was sold, (3) the
    platform's attribution breakdown adds up (Meta: 7-day click + 1-day view = reported),
    (4) conversions were counted, not modelled (fractional data-driven conversions score
    half).
    """
    consistent = (conversions > 0) == (revenue > 0)
    counted = np.where(modelled, 0.5, 1.0)
    return (
        np.asarray(outcome_reported, dtype=np.float64)
        + consistent
        + np.asarray(attribution_ok, dtype=np.float64)
        + counted
    ) / 4.0


def external_validity(
    is_holiday: np.ndarray,
    calendar_known: np.ndarray,
    impressions: np.ndarray,
    conversions: np.ndarray,
    spend: np.ndarray,
    spend_mean_7: np.ndarray,
) -> np.ndarray:
    """How representative the row is: the mean of three checks.

    (1) an ordinary day: 1, a holiday 0.5, unknown calendar 0.75; (2) enough volume:
    ``min(1, max(impressions / 1000, conversions / 10))`` — a row too small to measure
    anything says little about the campaign; (3) not an outlier: spend within a factor of 3
    of its trailing 7-day mean scores 1, outside 0.5, no history 0.75.
    """
    normal_day = np.where(calendar_known, np.where(is_holiday, 0.5, 1.0), 0.75)
    volume = np.minimum(1.0, np.maximum(impressions / 1000.0, conversions / 10.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = spend / spend_mean_7
    known = np.isfinite(ratio) & (spend_mean_7 > 0) & (spend > 0)
    inlier = np.where(known, np.where((ratio >= 1 / 3) & (ratio <= 3), 1.0, 0.5), 0.75)
    return (normal_day + volume + inlier) / 3.0


def quality_score(components: dict[str, np.ndarray]) -> np.ndarray:
    """The weighted sum of the five components (:data:`WEIGHTS`), in [0, 1]."""
    return sum(WEIGHTS[name] * np.asarray(components[name]) for name in WEIGHTS)  # type: ignore[return-value]
