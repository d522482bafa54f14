"""Simulated worlds for the surfacing benchmarks: the attribution model's response curves as
the planner reads them, and the data-generating process's own curves to score them against.

``fitted_curves`` reads a fitted causal MMM (``causal_svc.attribution``) into
:class:`surfacing_svc.curves.HillCurve`: channel ``c`` adds ``B · β · unit · Hill(a / pop)``
to each geo-day (``B`` the baseline, ``unit`` the geo and demand modulation, ``a`` the
adstocked input), so over the window its outcome at ``r`` times its spend is
``β Σ_{g,t} B·unit · Hill(r a; K, S)`` — a Hill sum, compressed to quadrature nodes of equal
baseline mass. Parameter uncertainty: draws of θ from the fit's Laplace covariance.

``true_curves`` is the same object built from the simulator's truth: channel ``c`` adds
``aov · β · pop · exp(ε log_index) · Hill(adstock(x) / pop; K, S)`` expected revenue per
geo-day (``sim.outcomes.channel_lambda``), exactly a Hill sum with one node per geo-day.
"""

from __future__ import annotations

import numpy as np

import sim
from causal_svc.attribution import MMMFit
from causal_svc.attribution.features import channel_curve
from causal_svc.attribution.transforms import apply_lags
from sim.channels import CHANNEL_NAMES
from sim.demand import combine_log_index
from sim.media import adstock, weibull_weights
from surfacing_svc.curves import HillCurve

N_NODES = 32


def _nodes(
    inputs: np.ndarray, mass: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Inputs relative to their mass-weighted mean, grouped into ``n_nodes`` bins of equal mass:
    (nodes, node weights summing to 1, the mean)."""
    a, w = inputs.ravel(), np.maximum(mass.ravel(), 0.0)
    mean = float((a * w).sum() / w.sum())
    order = np.argsort(a, kind="stable")
    a, w = a[order] / mean, w[order]
    edges = np.searchsorted(np.cumsum(w) / w.sum(), np.linspace(0, 1, n_nodes + 1)[1:-1])
    nodes, weights = [], []
    for part_a, part_w in zip(np.split(a, edges), np.split(w, edges), strict=True):
        if part_w.sum() > 0:
            nodes.append(float((part_a * part_w).sum() / part_w.sum()))
            weights.append(float(part_w.sum()))
    weights_arr = np.array(weights)
    return np.array(nodes), weights_arr / weights_arr.sum(), mean


def fitted_curves(
    fit: MMMFit,
    unidentified: tuple[str, ...] = (),
    *,
    draws: int = 200,
    seed: int = 0,
    n_nodes: int = N_NODES,
) -> tuple[tuple[HillCurve, ...], float]:
    """The fit's channels with spend as curves over its window, and the baseline over it."""
    rng = np.random.default_rng(seed)
    layout, theta = fit.layout, fit.theta
    _, m = fit.media()
    baseline = fit.panel.outcome / m
    unit = fit.inputs.unit(theta, layout)
    lo, hi = layout.bounds()
    if draws:
        sample = np.clip(rng.multivariate_normal(theta, fit.cov, size=draws, method="svd"), lo, hi)
    else:  # the point estimate alone
        sample = theta[None, :]
    out = []
    for c, name in enumerate(fit.panel.channels):
        spend = float(fit.panel.spend[c].sum())
        if spend <= 0:
            continue
        k0 = float(fit.inputs.k0[c])
        point = channel_curve(layout, theta, c, k0, fit.spec.max_lag)
        a = apply_lags(fit.inputs.lags[c], point.weights)
        mass = baseline * unit
        nodes, weights, mean = _nodes(a, mass, n_nodes)
        per = [channel_curve(layout, s, c, k0, fit.spec.max_lag) for s in sample]
        out.append(
            HillCurve(
                channel=name, reference_spend=spend, period_days=fit.panel.n_days,
                scale=np.maximum(sample[:, c], 0.0) * float(mass.sum()),
                half_saturation=np.array([p.half_saturation for p in per]) / mean,
                shape=np.array([p.shape for p in per]),
                nodes=nodes, node_weights=weights, carryover=point.weights,
                identified=name not in unidentified,
                note="" if name not in unidentified else "the model's identification checks flagged it",
            )
        )  # fmt: skip
    return tuple(out), float(baseline.sum())


def true_inputs(r: sim.SimResult) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict]:
    """Per channel the daily input per geo-day (org-currency spend; sends for email), the
    populations, the log demand index, and the org's truth."""
    org, t = next(iter(r.truth["orgs"].items()))
    geos = [g["code"] for g in r.truth["geos"]]
    pop = np.array([g["population_m"] for g in r.truth["geos"]])
    dm = t["demand"]
    comps = {k: np.asarray(v, dtype=np.float64) for k, v in dm["components"].items()}
    log_index = combine_log_index(
        comps, np.asarray(dm["yearly"]), np.asarray(dm["geo"]["season_loading"]),
        np.asarray(dm["geo"]["geo_trend"]), np.asarray(dm["shock"]),
    )  # fmt: skip
    p = r.panel[r.panel["org_id"].astype(str) == org]
    g = p["region"].astype(str).map({c: i for i, c in enumerate(geos)}).to_numpy()
    day0 = np.datetime64(r.dates[0])
    tt = ((p["date"].to_numpy(dtype="datetime64[D]") - day0) // np.timedelta64(1, "D")).astype(int)
    email = p["channel"].astype(str).to_numpy() == "klaviyo_email"
    value = np.where(email, p["sends"].to_numpy(np.float64), p["spend_org"].to_numpy(np.float64))
    chan = p["channel"].astype(str).to_numpy()
    x = {}
    for name in CHANNEL_NAMES:
        sel = chan == name
        grid = np.zeros((len(geos), len(r.dates)))
        np.add.at(grid, (g[sel], tt[sel]), value[sel])
        x[name] = grid
    return x, pop, log_index, t


def true_curves(r: sim.SimResult) -> dict[str, HillCurve]:
    """The DGP's expected incremental revenue of each paid channel over the whole world, as a
    function of its spend at the world's own daily pattern."""
    x, pop, log_index, t = true_inputs(r)
    out = {}
    for name in CHANNEL_NAMES:
        params = t["media"][name]
        if params["input"] != "spend" or x[name].sum() <= 0:
            continue
        ad = params["adstock"]
        if ad["type"] == "weibull":  # the same weights sim.media applies
            assert len(weibull_weights(ad["shape"], ad["scale"], ad["max_lag"])) == ad["max_lag"]
        u = adstock(x[name], ad) / pop[:, None]
        mass = (
            t["aov"]
            * params["beta"]
            * pop[:, None]
            * np.exp(params["demand_elasticity"] * log_index)
        )
        w = mass.ravel() / mass.sum()
        mean = float((u.ravel() * w).sum())
        hp = params["hill"]
        out[name] = HillCurve(
            channel=name, reference_spend=float(x[name].sum()), period_days=len(r.dates),
            scale=np.array([float(mass.sum())]),
            half_saturation=np.array([hp["half_saturation"] / mean]),
            shape=np.array([float(hp["shape"])]),
            nodes=u.ravel() / mean, node_weights=w,
        )  # fmt: skip
    return out
