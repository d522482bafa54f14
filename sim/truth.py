"""The truth file: everything needed to re-apply the DGP and to score any estimate.

Top-level keys (all JSON types; dates ISO strings; money in the org's currency)::

    schema_version, generator, scenario, description, seed, start, days, dates
    config            the scenario's knobs
    geos              [{code, name, population_m, timezone}]
    orgs.<org_id>     currency, timezone, size, aov, gamma_shape_per_order,
                      demand   {params, components {name: [T]}, yearly [T],
                                geo {affinity, season_loading, geo_trend: [G]}, shock [[G x T]],
                                holidays {date: [name, log_lift]}}
                      media    {channel: {input, adstock, hill, beta, demand_elasticity, ...}}
                      attribution {channel: {recall, overclaim}}
                      fx       {account_id: org-currency units per account-currency unit}
                      channels {channel: [window, ...]}   incremental truth per window
                      counterfactual_daily {dates, orders_observed, revenue_observed,
                                            without {channel: {orders, revenue}}}
    noise             how outcomes were drawn (stream ids and order), for re-application
    experiments       [{experiment_id, truth...}]   per registry entry
    designs           [{kind, org_id, channel, info, ...}]
    study             the study table's estimand and true effect (study scenarios)
    dirty_rows        [{source, index, row_key, kind, action, field, dirty_value,
                        clean_value, original_index, detail}]   (see sim.raw.dirt)

A channel window is ``{window, start, end, spend, input, expected_incremental_orders,
expected_incremental_revenue, realised_incremental_orders, realised_incremental_revenue,
iroas, realised_iroas, platform_conversions, platform_revenue}``: incremental means the
channel's contribution to outcomes dated inside the window (carryover from earlier spend
included); ``iroas`` is expected incremental revenue over spend, null for a channel without
spend.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from .channels import BY_NAME, CHANNEL_NAMES
from .orgsim import STREAM_COUNTERFACTUAL, STREAM_OUTCOME, OrgSim
from .outcomes import GAMMA_SHAPE_PER_ORDER
from .scenarios import Scenario

SCHEMA_VERSION = 1


def _windows(
    dates: list[date], design_window: tuple[int, int] | None
) -> list[tuple[str, int, int]]:
    out = [("all", 0, len(dates))]
    months: dict[str, list[int]] = {}
    for i, d in enumerate(dates):
        months.setdefault(f"{d.year:04d}-{d.month:02d}", []).append(i)
    out += [(k, v[0], v[-1] + 1) for k, v in months.items()]
    if design_window:
        out.append(("design_window", *design_window))
    return out


def _r(x: float) -> float:
    return float(round(float(x), 6))


def channel_truth(o: OrgSim, dates: list[date]) -> dict[str, list[dict[str, Any]]]:
    """Incremental orders, revenue and iROAS per channel and window."""
    dw = None
    if o.design is not None and o.design.kind == "geo_holdout":
        s = int(o.design.info["window_start_day"])
        dw = (s, s + int(o.design.info["window_days"]))
    spend_org = o.inputs.spend * o.inputs.fx[:, None, None]
    out: dict[str, list[dict[str, Any]]] = {}
    for c, name in enumerate(CHANNEL_NAMES):
        rows = o.inputs.channel_of == c
        sp = spend_org[rows].sum(axis=(0, 1))
        plat_conv = o.delivery.conversions[rows].sum(axis=(0, 1))
        plat_rev = (o.delivery.revenue[rows] * o.inputs.fx[rows][:, None, None]).sum(axis=(0, 1))
        lam = o.lam[c].sum(axis=0)
        n = o.draws.channel_orders[c].sum(axis=0)
        rev = o.draws.channel_revenue[c].sum(axis=0)
        x = o.x[c].sum(axis=0)
        ws = []
        for label, a, b in _windows(dates, dw):
            spend = float(sp[a:b].sum())
            exp_rev = float(lam[a:b].sum()) * o.aov
            real_rev = float(rev[a:b].sum())
            has_spend = spend > 0
            ws.append(
                {
                    "window": label,
                    "start": dates[a].isoformat(),
                    "end": dates[b - 1].isoformat(),
                    "spend": round(spend, 2),
                    "input": _r(x[a:b].sum()),
                    "expected_incremental_orders": _r(lam[a:b].sum()),
                    "expected_incremental_revenue": round(exp_rev, 2),
                    "realised_incremental_orders": int(n[a:b].sum()),
                    "realised_incremental_revenue": round(real_rev, 2),
                    "iroas": _r(exp_rev / spend) if has_spend else None,
                    "realised_iroas": _r(real_rev / spend) if has_spend else None,
                    "platform_conversions": _r(plat_conv[a:b].sum()),
                    "platform_revenue": round(float(plat_rev[a:b].sum()), 2),
                }
            )
        out[name] = ws
    return out


def org_truth(o: OrgSim, dates: list[date]) -> dict[str, Any]:
    dm = o.demand
    exact = o.draws.revenue_exact
    without = {}
    for c, name in enumerate(CHANNEL_NAMES):
        without[name] = {
            "orders": (o.draws.orders - o.draws.channel_orders[c]).sum(axis=0).tolist(),
            "revenue": np.round(
                np.round(exact - o.draws.channel_revenue[c], 2).sum(axis=0), 2
            ).tolist(),
        }
    return {
        "name": o.org.name,
        "currency": o.org.currency,
        "timezone": o.org.timezone,
        "size": o.org.size,
        "aov": o.aov,
        "gamma_shape_per_order": GAMMA_SHAPE_PER_ORDER,
        "demand": {
            "params": dm.params,
            "components": {k: v.tolist() for k, v in dm.components.items()},
            "yearly": dm.yearly.tolist(),
            "geo": {
                "affinity": dm.affinity.tolist(),
                "season_loading": dm.season_loading.tolist(),
                "geo_trend": dm.geo_trend.tolist(),
            },
            "shock": dm.shock.tolist(),
            "holidays": {k: [n, lift] for k, (n, lift) in dm.holiday_lifts.items()},
        },
        "media": o.media,
        "attribution": {
            n: {"recall": BY_NAME[n].recall, "overclaim": BY_NAME[n].overclaim}
            for n in CHANNEL_NAMES
        },
        "fx": {a.account_id: a.fx_to_org for a in o.accounts},
        "channels": channel_truth(o, dates),
        "counterfactual_daily": {
            "orders_observed": o.draws.orders.sum(axis=0).tolist(),
            "revenue_observed": np.round(o.draws.revenue.sum(axis=0), 2).tolist(),
            "without": without,
        },
    }


def experiment_truth(o: OrgSim, experiment_id: str) -> dict[str, Any]:
    """ATT/ATE of a geo holdout from the potential outcomes, per geo-day and in total."""
    d, po = o.design, o.potential
    assert d is not None and po is not None
    treated = d.treated
    tau_rev = po.y1(treated) - po.y0(treated)
    tau_ord = po.y1(treated, "orders") - po.y0(treated, "orders")
    s = int(d.info["window_start_day"])
    win = slice(s, s + int(d.info["window_days"]))
    treat_geo = np.asarray(d.info["treatment_geo_mask"], dtype=bool)
    rows = np.array([c.channel == d.channel for c in o.campaigns])
    spend = (o.inputs.spend[rows] * o.inputs.fx[rows][:, None, None]).sum(axis=0)
    inc = float(tau_rev[treated].sum())
    sp = float(spend[treated].sum())
    return {
        "experiment_id": experiment_id,
        "att_revenue_per_geo_day": float(tau_rev[treated].mean()),
        "att_orders_per_geo_day": float(tau_ord[treated].mean()),
        "ate_revenue_per_geo_day": float(tau_rev[:, win].mean()),
        "incremental_revenue_treated": round(inc, 2),
        "incremental_orders_treated": int(tau_ord[treated].sum()),
        "spend_treated": round(sp, 2),
        "iroas_treated": inc / sp if sp > 0 else None,
        "n_treated_geos": int(treat_geo.sum()),
        "n_control_geos": int((~treat_geo).sum()),
        "definition": "ATT = mean over treatment-geo test-window days of Y(1) - Y(0), where "
        "Y(0) has the channel off; both simulated with common random numbers",
    }


def noise_truth(seed: int) -> dict[str, Any]:
    return {
        "generator": "numpy.random.default_rng(PCG64)",
        "outcome_stream": [seed, STREAM_OUTCOME, "<org_index>"],
        "counterfactual_stream": [seed, STREAM_COUNTERFACTUAL, "<org_index>"],
        "outcome_draw_order": [
            "base = poisson(lambda_base)",
            "for channel in channel order: orders[channel] = poisson(lambda[channel])",
            "base_revenue = gamma(k * base, aov / k)",
            "for channel in channel order: revenue[channel] = gamma(k * orders[channel], aov/k)",
            "orders = base + sum(orders); revenue = round(base_revenue + sum(revenue), 2)",
        ],
        "channel_order": list(CHANNEL_NAMES),
    }


def config_truth(sc: Scenario) -> dict[str, Any]:
    return {
        "days": sc.days,
        "start": sc.start.isoformat(),
        "n_orgs": sc.n_orgs,
        "n_geos": sc.n_geos,
        "n_campaigns": sc.n_campaigns,
        "confounding": sc.confounding,
        "effect_scale": dict(sc.effect_scale),
        "no_carryover": list(sc.no_carryover),
        "design": sc.design,
        "design_channel": sc.design_channel,
        "dirt_rate": sc.dirt_rate,
        "min_dirt_per_kind": sc.min_dirt_per_kind,
        "shock_sigma": sc.shock_sigma,
        "shock_rho": sc.shock_rho,
    }
