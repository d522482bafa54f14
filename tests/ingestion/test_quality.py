"""The causal quality score: the seed's weights and each component as documented."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion_svc import quality as q


def a(*values: object) -> np.ndarray:
    return np.array(values)


def test_weights_are_the_seeds_and_sum_to_one() -> None:
    assert q.WEIGHTS == {
        "temporal_consistency": 0.25,
        "confounder_coverage": 0.30,
        "treatment_assignment": 0.20,
        "outcome_measurement": 0.15,
        "external_validity": 0.10,
    }
    assert sum(q.WEIGHTS.values()) == pytest.approx(1.0)


def test_score_is_the_weighted_sum() -> None:
    parts = {name: np.array([1.0, 0.0, 0.5]) for name in q.WEIGHTS}
    parts["confounder_coverage"] = np.array([0.0, 1.0, 0.5])
    score = q.quality_score(parts)
    assert score.tolist() == pytest.approx([0.70, 0.30, 0.5])


def test_temporal_consistency_penalties() -> None:
    f, t = False, True
    score = q.temporal_consistency(
        out_of_order=a(f, t, f, f, f, t),
        late_days=a(0, 0, 3, 20, 0, 20),
        tz_repaired=a(f, f, f, f, t, t),
        tz_mismatch=a(f, f, f, f, f, t),
        tz_ambiguous=a(f, f, f, f, t, t),
    )
    assert score.tolist() == pytest.approx([1.0, 0.7, 0.85, 0.6, 0.6, 0.0])


def test_confounder_coverage_is_the_share_of_the_platforms_expected_inputs() -> None:
    yes, no = np.ones(2, bool), np.zeros(2, bool)
    meta = q.confounder_coverage(
        "meta", {"calendar": yes, "weekly": a(True, False), "macro": no, "competitor": yes}
    )
    assert meta.tolist() == pytest.approx([3 / 5, 2 / 5])  # promotion missing
    # Budget response is expected of search, not of social: the same inputs cover
    # different shares.
    google = q.confounder_coverage(
        "google_ads", {"calendar": yes, "weekly": yes, "budget": yes, "demand": yes}
    )
    assert google.tolist() == pytest.approx([4 / 6, 4 / 6])
    assert q.confounder_coverage(
        "klaviyo", {"calendar": yes, "weekly": yes, "promotion": yes}
    ).tolist() == [1.0, 1.0]


def test_treatment_assignment_randomised_beats_any_observational_row() -> None:
    score = q.treatment_assignment(a(True, False, False, False), a(0, 0, 14, 60))
    assert score.tolist() == pytest.approx([1.0, 0.2, 0.35, 0.5])
    assert score[1:].max() <= 0.5


def test_outcome_measurement_checks() -> None:
    t, f = True, False
    score = q.outcome_measurement(
        outcome_reported=a(t, f, t, t, t),
        conversions=a(3.0, 0.0, 2.0, 0.0, 2.5),
        revenue=a(90.0, 0.0, 0.0, 10.0, 80.0),
        attribution_ok=a(t, t, t, t, f),
        modelled=a(f, f, f, f, t),
    )
    assert score.tolist() == pytest.approx([1.0, 0.75, 0.75, 0.75, 0.625])


def test_external_validity_checks() -> None:
    t, f = True, False
    score = q.external_validity(
        is_holiday=a(f, t, f, f, f),
        calendar_known=a(t, t, f, t, t),
        impressions=a(5000.0, 5000.0, 5000.0, 100.0, 5000.0),
        conversions=a(0.0, 0.0, 0.0, 2.0, 0.0),
        spend=a(100.0, 100.0, 100.0, 100.0, 400.0),
        spend_mean_7=a(90.0, 90.0, np.nan, 90.0, 100.0),
    )
    assert score.tolist() == pytest.approx(
        [1.0, (0.5 + 1 + 1) / 3, (0.75 + 1 + 0.75) / 3, (1 + 0.2 + 1) / 3, (1 + 1 + 0.5) / 3]
    )
