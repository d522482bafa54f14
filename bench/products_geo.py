"""The orders' geo as a source of identification for the cannibalisation sign (issue 20):
the oracle pair equation on the orders' product × geo × day panel against the national one,
and what-ifs with regional flights. ``bench/products_accuracy.py --geo [--regional half|one]``
prints it (docs/performance.md, products, fourth pass); it has no figure of its own."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from causal_svc.products.design import baseline_controls
from causal_svc.products.estimate import _arrays, _others
from sim.products import PRODUCT_CHANNELS
from sim.products.response import QBAR, QTY_TWO, geometric_adstock

__all__ = ["GEO_DESIGNS", "geo_oracle", "print_geo"]


GEO_DESIGNS = (
    "national panel, all but the cross-effect known",
    "national panel, season controls, true lifts as regressors",
    "geo panel of the orders (today's world), same",
    "regional flights, single-product campaigns: known baseline",
    "... geo x day effects, true lifts as regressors",
    "... season controls x geo share, true lifts as regressors",
    "regional flights, every campaign: known baseline",
    "... geo x day effects, true lifts as regressors",
    "... season controls x geo share, true lifts as regressors",
)
QTY_MOMENT = (1.0 - QTY_TWO + 4.0 * QTY_TWO) / QBAR  # E[q^2] / E[q], q in {1, 2}


def _regional(rng: np.random.Generator, spend: np.ndarray, n_g: int, one: bool) -> np.ndarray:
    """(G, T) 0/1: each flight (a run of days with spend) of one campaign runs in one random
    geo (``one``) or in a random half of the geos (at least one)."""
    on = spend > 0
    mask = np.ones((n_g, on.size))
    starts = np.flatnonzero(on & ~np.r_[False, on[:-1]])
    ends = np.flatnonzero(on & ~np.r_[on[1:], False]) + 1
    for a, b in zip(starts, ends, strict=True):
        m = np.arange(n_g) == rng.integers(n_g) if one else rng.random(n_g) < 0.5
        if not m.any():
            m[rng.integers(n_g)] = True
        mask[:, a:b] = m[:, None]
    return mask


def _geo_lifts(org: Any, w: np.ndarray, masks: dict[int, np.ndarray]) -> np.ndarray:
    """(P, G, T) each product's ad lift per geo: its national lift per channel split by the
    geo shares of its campaigns' adstock (a campaign without a mask spends by ``w``)."""
    resp, plan = org.response, org.plan
    _, n_p, n_t = resp.direct.shape
    out = np.zeros((n_p, w.size, n_t))
    for c, name in enumerate(PRODUCT_CHANNELS):
        ks = [k for k, cp in enumerate(plan.campaigns) if cp.channel == name]
        for p in range(n_p):
            if not resp.direct[c, p].any():
                continue
            decay = resp.params[name][org.catalogue.products[p].category]["decay"]
            geo = np.zeros((w.size, n_t))
            for k in ks:
                s = plan.spend[k, p]
                if not s.any():
                    continue
                m = masks.get(k, np.ones((w.size, n_t))) * w[:, None]
                share = m / np.maximum(m.sum(axis=0, keepdims=True), 1e-12)
                geo += geometric_adstock(s[None, :] * share, decay)
            tot = geo.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[p] += np.where(tot > 0, resp.direct[c, p] * geo / tot, 0.0)
    return out


def _wls_se(y_var: np.ndarray, x: np.ndarray, col: int) -> float:
    """Model-variance WLS standard error of coefficient ``col`` (rows with variance 0 dropped)."""
    keep = y_var > 0
    xs = x[keep] / np.sqrt(y_var[keep])[:, None]
    cov = np.linalg.pinv(xs.T @ xs)
    return float(np.sqrt(cov[col, col])) if cov[col, col] > 0 else np.inf


def geo_oracle(
    products: Any, seed: int, one: bool, min_cann: float
) -> list[tuple[float, list[float]]]:
    """Per planted cannibalisation >= ``min_cann``: ``(|share|, se of the share under each of
    GEO_DESIGNS)``, with the true count-noise variance (compound Poisson) as weights.

    The geo panel's noise per cell is the national one thinned by the order's geo share, as
    the simulator ships orders (``sim.products.orders.pack_orders``). The regional what-ifs
    keep every campaign's national spend and every lift's national total (so the truth is
    unchanged) and only move where a flight spends.
    """
    org = products.orgs[0]
    ids = [p.product_id for p in org.catalogue.products]
    resp = org.response
    n_t = resp.base.shape[1]
    w = np.bincount(org.orders.order_geo).astype(np.float64)
    w /= w.sum()
    n_g = w.size
    price = np.array([p.price for p in org.catalogue.products])
    var_nat = resp.expected * price[:, None] * (1 - org.plan.discount) * QTY_MOMENT  # (P, T)
    rng = np.random.default_rng([seed, 7919])
    single = {
        k: _regional(rng, org.plan.spend[k].sum(axis=0), n_g, one)
        for k, cp in enumerate(org.plan.campaigns)
        if cp.product is not None
    }
    every = {
        k: single[k] if k in single else _regional(rng, org.plan.spend[k].sum(axis=0), n_g, one)
        for k in range(len(org.plan.campaigns))
    }
    lifts = {"single": _geo_lifts(org, w, single), "every": _geo_lifts(org, w, every)}
    day = np.kron(np.ones((n_g, 1)), np.eye(n_t))  # (G*T, T): day t of geo g
    geo_fe = np.kron(np.eye(n_g), np.ones((n_t, 1)))  # (G*T, G)
    wcol = np.repeat(w, n_t)
    a = _arrays(products.panel, PRODUCT_CHANNELS)
    out = []
    for pr in org.truth["pairs"]:
        if pr["kind"] != "cannibalisation" or abs(pr["share_of_promoted_lift"]) < min_cann:
            continue
        p, q = ids.index(pr["promoted"]), ids.index(pr["affected"])
        lift = resp.direct[:, p].sum(axis=0)
        v = var_nat[q]
        vg = (w[:, None] * v[None, :]).ravel()
        sibs = [
            s
            for s in range(len(ids))
            if s not in (p, q)
            and org.catalogue.products[s].category == pr["category"]
            and resp.direct[:, s].any()
        ]
        m = [i for i, c in enumerate(a.category) if c == pr["category"]]
        aq = a.products.index(pr["affected"])
        xq, _ = baseline_controls(
            a.dates, a.discount[[aq]], a.revenue[m].mean(axis=1)[[m.index(aq)]],
            a.first_sale[[aq]], "US",
        )  # fmt: skip
        own = [resp.direct[c, q] for c in range(len(resp.direct)) if resp.direct[c, q].any()]
        controls = np.column_stack([xq, _others(a, np.array(m))])
        xn = np.column_stack([controls, lift, *own, *[resp.direct[:, s].sum(axis=0) for s in sibs]])
        n_x = controls.shape[1]
        ses = [
            _wls_se(v, np.column_stack([np.ones(n_t), lift]), 1),
            _wls_se(v, xn, n_x),
            _wls_se(vg, np.column_stack([geo_fe, np.outer(w, lift).ravel()]), n_g),
        ]
        for key in ("single", "every"):
            lg = lifts[key]
            ses.append(_wls_se(vg, np.column_stack([geo_fe, lg[p].ravel()]), n_g))
            # The lifts as regressors: the promoted product's first, then the affected one's
            # own and its other siblings'.
            lifts_x = np.column_stack(
                [lg[p].ravel(), lg[q].ravel(), *[lg[s].ravel() for s in sibs]]
            )
            # Every national thing (baseline, season, discounts, the national campaigns'
            # lifts) scales with the geo's share of orders: geo x day effects w_g a_t absorb it.
            x = np.column_stack([day * wcol[:, None], geo_fe[:, 1:], lifts_x])
            ses.append(_wls_se(vg, x, n_t + n_g - 1))
            # Or the national baseline's controls, scaled by each geo's share of orders.
            xc = np.column_stack([np.kron(w[:, None], controls), geo_fe[:, 1:], lifts_x])
            ses.append(_wls_se(vg, xc, n_x + n_g - 1))
        out.append((abs(pr["share_of_promoted_lift"]), ses))
    return out


def print_geo(per_seed: list[list[tuple[float, list[float]]]], regional: str) -> None:
    """Median se against the national oracle's and the expected share of seeds with every
    scored sign right, for each of :data:`GEO_DESIGNS`."""
    flat = [x for seed in per_seed for x in seed]
    print(
        f"\ngeo oracle ({len(flat)} planted pairs; true count-noise variance as weights; "
        f"what-if flights in {'one state' if regional == 'one' else 'half the states'}):"
    )
    print(f"   {'design':58s} se / national   expected per-seed rate")
    for k, name in enumerate(GEO_DESIGNS):
        ratio = np.median([x[1][k] / x[1][0] for x in flat])
        rate = np.mean(
            [np.prod([stats.norm.cdf(x[0] / x[1][k]) for x in seed]) for seed in per_seed]
        )
        print(f"   {name:58s} {ratio:12.2f} {rate:20.3f}")
