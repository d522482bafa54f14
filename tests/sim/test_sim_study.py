"""Study tables: roles name real columns, the observed outcome is one of the two simulated
potential outcomes, and the true effects agree with independent identities of the DGP."""

from __future__ import annotations

import numpy as np
import pytest

import sim

ROLE_KEYS = {
    "outcome",
    "treatment",
    "unit",
    "time",
    "covariates",
    "instruments",
    "running_variable",
    "cutoff",
    "cluster",
    "pre_outcome",
}


@pytest.mark.parametrize("name", sim.STUDY_SCENARIOS)
def test_table_is_consistent_with_potential_outcomes(name: str) -> None:
    st = sim.study_table(sim.simulate(name, seed=2))
    f, po = st.frame, st.potential
    assert set(st.roles) <= ROLE_KEYS
    for role, col in st.roles.items():
        if role == "cutoff":
            continue
        for c in col if isinstance(col, list) else [col]:
            assert c in f.columns, (role, c)
    assert st.estimand in ("ate", "att", "late") and np.isfinite(st.true_effect)
    observed = np.where(f["treatment"] == 1, po["y1"], po["y0"])
    np.testing.assert_allclose(f["revenue"].to_numpy(), observed, rtol=1e-12)
    tau = (po["y1"] - po["y0"]).to_numpy()
    if st.estimand == "att":
        assert st.true_effect == pytest.approx(tau[f["treatment"] == 1].mean(), rel=1e-12)
    elif st.design in ("geo_holdout", "observational"):
        assert st.true_effect == pytest.approx(tau.mean(), rel=1e-12)


def test_null_scenario_has_exactly_zero_effect_but_platform_claims_credit() -> None:
    r = sim.simulate("null", seed=4)
    assert sim.study_table(r).true_effect == 0.0
    meta = r.panel[r.panel["channel"] == "meta_prospecting"]
    assert meta["platform_conversions"].sum() > 0  # the platform still over-claims


def test_small_effect_is_smaller_than_default() -> None:
    small = sim.study_table(sim.simulate("small_effect", seed=4)).true_effect
    full = sim.study_table(sim.simulate("geo_experiment", seed=4)).true_effect
    assert 0 < small < 0.3 * full


@pytest.mark.parametrize("name", ["staggered", "synthetic_control"])
def test_rollout_att_equals_removing_the_channel_stream(name: str) -> None:
    """Never launching the channel is the 'without channel' world of the counterfactuals."""
    r = sim.simulate(name, seed=6)
    st = sim.study_table(r)
    cf = r.counterfactuals
    pop = {g["code"]: g["population_m"] for g in r.truth["geos"]}
    days = len(r.dates)
    gain = (cf["revenue_observed"] - cf["revenue_without_tiktok"]).to_numpy().reshape(-1, days)
    weeks = days // 7
    weekly = gain[:, : 7 * weeks].reshape(gain.shape[0], weeks, 7).sum(axis=2)
    regions = cf["region"].astype(str).to_numpy().reshape(-1, days)[:, 0]
    per_k = weekly / (np.array([pop[c] for c in regions])[:, None] * 1000)
    treated = st.frame["treatment"].to_numpy().reshape(len(regions), weeks) == 1
    assert st.true_effect == pytest.approx(per_k[treated].mean(), rel=1e-9)


def test_staggered_effects_are_heterogeneous_over_cohorts() -> None:
    st = sim.study_table(sim.simulate("staggered", seed=1))
    gt = st.truth["group_time_att"]
    by_cohort = {}
    for cell in gt:
        if cell["event_time"] == 4:
            by_cohort[cell["cohort_week"]] = cell["att"]
    assert len(by_cohort) == 3
    effects = list(by_cohort.values())
    assert max(effects) > 1.5 * min(effects)  # cohort budgets differ -> effects differ
    first = min(by_cohort)
    path = [c["att"] for c in gt if c["cohort_week"] == first]
    assert path[5] > 3 * path[0]  # and grow with time since launch (ramp + carryover)


def test_instrument_is_relevant_and_wald_tracks_late() -> None:
    ests, truths = [], []
    for seed in range(3):
        st = sim.study_table(sim.simulate("instrument", seed=seed))
        f = st.frame
        g = f.groupby("region")
        y = f["revenue"] - g["revenue"].transform("mean")
        z = f["auction_shock"] - g["auction_shock"].transform("mean")
        d = f["treatment"] - g["treatment"].transform("mean")
        first = (
            f.loc[f.auction_shock == 1, "treatment"].mean()
            - f.loc[f.auction_shock == 0, "treatment"].mean()
        )
        assert first < -0.3  # shocks pause the channel
        ests.append(float((y * z).sum() / (d * z).sum()))
        truths.append(st.true_effect)
    # within-geo Wald estimates, averaged over replicates, near the averaged true LATE
    assert np.mean(ests) == pytest.approx(np.mean(truths), rel=0.25)


def test_world_scenario_has_no_study_table() -> None:
    with pytest.raises(sim.SimError) as err:
        sim.study_table(sim.simulate("confounded", seed=0, days=60, n_geos=5, dirt=False))
    assert err.value.reason == "NO_STUDY_TABLE"


def test_bad_requests_name_the_field() -> None:
    with pytest.raises(sim.SimError) as err:
        sim.simulate("nope")
    assert err.value.field == "scenario"
    with pytest.raises(sim.SimError) as err:
        sim.simulate("demo", n_geos=99)
    assert err.value.field == "n_geos"
