"""In ``confounded`` the simulator really confounds: a naive OLS of revenue on spend is biased by
more than 50% against the truth, while the regression on the true DGP's terms recovers it."""

from __future__ import annotations

import numpy as np

import sim
from sim.channels import CHANNEL_NAMES
from sim.reapply import expected_orders

PAID = [c for c in CHANNEL_NAMES if c != "klaviyo_email"]
TOLERANCE = 0.10  # the true-DGP regression's implied incremental revenue, relative


def test_naive_ols_is_biased_and_true_dgp_regression_recovers_truth() -> None:
    r = sim.simulate("confounded", seed=11, days=240, dirt=False)
    org = r.truth["orgs"]["org_001"]
    windows = {c: next(w for w in org["channels"][c] if w["window"] == "all") for c in PAID}
    true_inc = sum(w["expected_incremental_revenue"] for w in windows.values())
    true_spend = sum(w["spend"] for w in windows.values())
    true_iroas = true_inc / true_spend

    spend = r.panel.groupby(["region", "date"], observed=True)["spend_org"].sum()
    df = r.outcomes.set_index(["region", "date"]).join(spend.rename("spend"))
    df["spend"] = df["spend"].fillna(0.0)
    y = df["revenue"].to_numpy()
    x = np.column_stack([np.ones(len(df)), df["spend"].to_numpy()])
    naive = np.linalg.lstsq(x, y, rcond=None)[0][1]
    assert abs(naive / true_iroas - 1) > 0.5

    lam_base, lam = expected_orders(r.truth, r.panel)["org_001"]
    aov = org["aov"]
    paid = sum(lam[CHANNEL_NAMES.index(c)] for c in PAID)
    email = lam[CHANNEL_NAMES.index("klaviyo_email")]
    z = np.column_stack([aov * lam_base.ravel(), aov * paid.ravel(), aov * email.ravel()])
    revenue = r.outcomes["revenue"].to_numpy()  # outcomes are in (region, date) grid order
    theta = np.linalg.lstsq(z, revenue, rcond=None)[0]
    implied = theta[1] * z[:, 1].sum()
    assert abs(implied / true_inc - 1) < TOLERANCE
    assert abs(theta[0] - 1) < 0.02


def test_confounding_knob_moves_the_bias() -> None:
    def naive_over_truth(kappa: float) -> float:
        r = sim.simulate("confounded", seed=5, days=120, n_geos=20, confounding=kappa, dirt=False)
        p = r.panel
        spend = p.groupby(["region", "date"], observed=True)["spend_org"].sum()
        df = r.outcomes.set_index(["region", "date"]).join(spend.rename("spend")).fillna(0.0)
        # within-geo (fixed effects) slope: only time-varying confounding is left
        g = df.groupby(level="region", observed=True)
        yd = df["revenue"] - g["revenue"].transform("mean")
        xd = df["spend"] - g["spend"].transform("mean")
        slope = float((xd * yd).sum() / (xd * xd).sum())
        org = r.truth["orgs"]["org_001"]
        inc = sum(
            next(w for w in org["channels"][c] if w["window"] == "all")[
                "expected_incremental_revenue"
            ]
            for c in PAID
        )
        sp = sum(next(w for w in org["channels"][c] if w["window"] == "all")["spend"] for c in PAID)
        return slope / (inc / sp)

    assert naive_over_truth(3.0) > naive_over_truth(0.0) + 0.3
