"""The truth file reproduces the observed data when the DGP is re-applied, and the documented
media formulas are the ones used (checked against direct implementations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.media import geometric_adstock, hill, weibull_adstock
from sim.reapply import expected_orders


def test_reapply_reproduces_first_party_outcomes_exactly(
    demo: sim.SimResult, demo_dir: Path
) -> None:
    truth = json.loads((demo_dir / "truth.json").read_text())
    again = sim.reapply(truth, demo.panel)
    np.testing.assert_array_equal(again["orders"].to_numpy(), demo.outcomes["orders"].to_numpy())
    np.testing.assert_array_equal(again["revenue"].to_numpy(), demo.outcomes["revenue"].to_numpy())
    # ... and the orders file on disk is the same outcome.
    csv = pd.read_csv(demo_dir / "orders.csv")
    np.testing.assert_array_equal(csv["orders"].to_numpy(), again["orders"].to_numpy())
    np.testing.assert_allclose(csv["revenue"].to_numpy(), again["revenue"].to_numpy(), atol=0)


def test_reapply_fails_when_truth_is_wrong(demo: sim.SimResult, demo_dir: Path) -> None:
    truth = json.loads((demo_dir / "truth.json").read_text())
    truth["orgs"]["org_001"]["media"]["google_search"]["beta"] *= 1.5
    again = sim.reapply(truth, demo.panel)
    assert not np.array_equal(again["orders"].to_numpy(), demo.outcomes["orders"].to_numpy())


def _direct_geometric(x: np.ndarray, decay: float) -> np.ndarray:
    out, carry = [], 0.0
    for v in x:
        carry = (1 - decay) * v + decay * carry
        out.append(carry)
    return np.array(out)


def _direct_weibull(x: np.ndarray, k: float, lam: float, max_lag: int) -> np.ndarray:
    lags = np.arange(1, max_lag + 1)
    w = (k / lam) * (lags / lam) ** (k - 1) * np.exp(-((lags / lam) ** k))
    w = w / w.sum()
    return np.array(
        [sum(w[j] * x[t - j] for j in range(max_lag) if t - j >= 0) for t in range(len(x))]
    )


def test_adstock_and_hill_match_their_formulas() -> None:
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 50.0, 60)
    np.testing.assert_allclose(geometric_adstock(x, 0.6), _direct_geometric(x, 0.6), rtol=1e-12)
    np.testing.assert_allclose(
        weibull_adstock(x, 1.8, 5.0, 28), _direct_weibull(x, 1.8, 5.0, 28), rtol=1e-12
    )
    # A constant input settles at itself (normalised adstock), and Hill(K) = 1/2.
    flat = np.full(400, 7.0)
    assert abs(geometric_adstock(flat, 0.5)[-1] - 7.0) < 1e-9
    assert abs(weibull_adstock(flat, 2.0, 4.0, 28)[-1] - 7.0) < 1e-9
    assert abs(float(hill(np.array(3.0), 3.0, 2.2)) - 0.5) < 1e-12


def test_channel_mean_matches_documented_formula_for_one_geo(demo: sim.SimResult) -> None:
    """lambda_c[g, t] = beta pop exp(rho log_index) Hill(adstock(x)/pop), written out by hand."""
    truth = demo.truth
    org = truth["orgs"]["org_001"]
    lam_base, lam = expected_orders(truth, demo.panel)["org_001"]
    g = 3
    code = truth["geos"][g]["code"]
    pop = truth["geos"][g]["population_m"]
    p = org["media"]["google_search"]
    rows = demo.panel[(demo.panel["region"] == code) & (demo.panel["channel"] == "google_search")]
    daily = (
        rows.groupby("date")["spend_org"]
        .sum()
        .reindex(pd.to_datetime(truth["dates"]), fill_value=0.0)
        .to_numpy()
    )
    dm = org["demand"]
    t = np.arange(len(truth["dates"]))
    log_index = (
        np.sum([np.asarray(v) for v in dm["components"].values()], axis=0)
        + (dm["geo"]["season_loading"][g] - 1) * np.asarray(dm["yearly"])
        + dm["geo"]["geo_trend"][g] * t / 365
        + np.asarray(dm["shock"][g])
    )
    a = _direct_geometric(daily, p["adstock"]["decay"]) / pop
    k, s = p["hill"]["half_saturation"], p["hill"]["shape"]
    want = p["beta"] * pop * np.exp(p["demand_elasticity"] * log_index) * a**s / (a**s + k**s)
    np.testing.assert_allclose(lam[2, g], want, rtol=1e-9)
    base = dm["params"]["base_rate"] * pop * dm["geo"]["affinity"][g] * np.exp(log_index)
    np.testing.assert_allclose(lam_base[g], base, rtol=1e-9)
