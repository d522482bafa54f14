"""Why a seed misses issue 20's every-sign figure: each planted cannibalisation >= 10% of the
promoted product's lift, its estimate against the truth, and whether a wrong sign is power or
bias. ``bench/products_accuracy.py --diagnose`` prints it after the figures.

Per scored pair it keeps the truth's share of the promoted lift, the estimate's share and its
standard error (both over the truth's promoted lift, so the share's error is not the lift's),
``z = (estimate - truth) / se`` (bias shows as a z far from zero in one direction; power as a
pair whose truth is within a standard error or two of zero) and the oracle's ``t`` (the truth
over the standard error of an oracle that knows everything but the one cross-effect, see
:func:`bench.products_accuracy.oracle_sign_ceiling`). It prints every pair whose sign is
wrong, the z-scores' mean and spread over all scored pairs, and the per-seed rate the reported
standard errors expect (``Phi(|share| / se)`` multiplied over a seed's pairs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.products import ProductEffects


def oracle_se(org: Any, revenue: pd.DataFrame, ids: list[str], pair: dict[str, Any]) -> float:
    """The standard error of an oracle that knows everything but ``pair``'s cross-effect: the
    affected product's noise against the promoted product's true lift (also what
    :func:`bench.products_accuracy.oracle_sign_ceiling` multiplies over a seed's pairs)."""
    p, q = ids.index(pair["promoted"]), ids.index(pair["affected"])
    noise = revenue.loc[pair["affected"]].to_numpy() - org.response.expected[q]
    lift = org.response.direct[:, p].sum(axis=0)
    sxx = float(((lift - lift.mean()) ** 2).sum())
    return float(noise.std()) / np.sqrt(sxx) if sxx > 0 else np.inf


def sign_rows(
    seed: int, products: Any, est: ProductEffects, min_cann: float
) -> list[dict[str, Any]]:
    """One row per planted cannibalisation with ``|share| >= min_cann`` the estimate has."""
    org = products.orgs[0]
    ids = [p.product_id for p in org.catalogue.products]
    single = {c.product for c in org.plan.campaigns if c.product is not None}
    revenue = products.panel.pivot_table(index="product_id", columns="date", values="revenue")
    pairs = {(p.promoted, p.affected): p for p in est.pairs}
    rows = []
    for pr in org.truth["pairs"]:
        e = pairs.get((pr["promoted"], pr["affected"]))
        if e is None or pr["kind"] != "cannibalisation" or pr["promoted_lift"] <= 0:
            continue
        share = pr["share_of_promoted_lift"]
        if abs(share) < min_cann:
            continue
        p, q = ids.index(pr["promoted"]), ids.index(pr["affected"])
        lift = org.response.direct[:, p].sum(axis=0)
        se_oracle = oracle_se(org, revenue, ids, pr)
        est_share = e.revenue / pr["promoted_lift"]
        se_share = e.stderr / pr["promoted_lift"]
        rows.append(
            {
                "seed": seed,
                "pair": f"{pr['promoted'][-4:]}->{pr['affected'][-4:]}",
                "share": share,
                "estimate": est_share,
                "se": se_share,
                "z": (est_share - share) / se_share if se_share > 0 else np.nan,
                "t": est_share / se_share if se_share > 0 else np.nan,
                "oracle t": share / se_oracle,
                "se / oracle": se_share / se_oracle,
                "single-product campaign": p in single,
                "lift / affected's revenue": float(lift.sum() / org.response.expected[q].sum()),
            }
        )
    return rows


def print_signs(rows: list[dict[str, Any]]) -> None:
    """The wrong signs, the z-scores and the per-seed rate the standard errors expect."""
    if not rows:
        return
    d = pd.DataFrame(rows)
    wrong = d[d["estimate"] >= 0]
    print(f"\nplanted cannibalisations >= 10% ({len(d)} pairs): the {len(wrong)} with a wrong sign")
    if len(wrong):
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(wrong.round(3).to_string(index=False))
    z = d["z"].to_numpy()
    print(
        f"   z = (estimate - truth) / se over all {len(d)}: mean {np.nanmean(z):+.2f},"
        f" sd {np.nanstd(z):.2f}; |z| > 1.96 in {100 * np.nanmean(np.abs(z) > 1.96):.1f}%"
    )
    for name, col in (("reported", "se"), ("oracle's", None)):
        se = d["se"] if col else d["se"] / d["se / oracle"]
        p = stats.norm.cdf((d["share"].abs() / se).to_numpy())
        rate = pd.Series(p).groupby(d["seed"].to_numpy()).prod().mean()
        print(f"   per-seed rate expected from the {name} standard errors: {rate:.3f}")
