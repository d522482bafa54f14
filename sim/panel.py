"""The clean, analysis-ready frames: the campaign x geo x day panel, first-party outcomes per
geo x day, and the counterfactual outcomes per geo x day without each channel."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .channels import CHANNEL_NAMES
from .geo import Geo
from .orgsim import OrgSim

PANEL_COLUMNS = (
    "org_id",
    "source",
    "account_id",
    "channel",
    "campaign_id",
    "campaign_name",
    "objective",
    "message_id",
    "region",
    "date",
    "currency",
    "spend",
    "spend_org",
    "impressions",
    "clicks",
    "sends",
    "delivered",
    "opens",
    "platform_conversions",
    "platform_revenue",
    "treated",
    "fp_orders",
    "fp_revenue",
    "row_key",
)


def active_mask(o: OrgSim) -> np.ndarray:
    """(C, G, T) rows a platform reports: any spend or any sends."""
    return (o.inputs.spend > 0) | (o.inputs.sends > 0)


def _cat(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))


def build_panel(
    o: OrgSim, geos: tuple[Geo, ...], dates: list[date], message_ids: dict[str, dict[str, str]]
) -> pd.DataFrame:
    """One org's panel, rows in (campaign, region, date) order."""
    ci, gi, ti = np.nonzero(active_mask(o))
    camps = o.campaigns
    acct = {a.account_id: a for a in o.accounts}
    regions = [g.code for g in geos]
    day_strings = [d.isoformat() for d in dates]
    # Klaviyo rows are keyed by the per-state campaign message; others by campaign.
    n_g = len(geos)
    msg = [message_ids.get(c.campaign_id, {}).get(r, "") for c in camps for r in regions]
    cg = ci * n_g + gi
    idents = [
        m or c.campaign_id
        for c in camps
        for m in (message_ids.get(c.campaign_id, {}).get(r, "") for r in regions)
    ]
    prefix = [f"{c.source}|{c.account_id}" for c in camps]
    keys = pc.binary_join_element_wise(
        pa.array(prefix).take(pa.array(ci)),
        pa.array(idents).take(pa.array(cg)),
        pa.array(regions).take(pa.array(gi)),
        pa.array(day_strings).take(pa.array(ti)),
        "|",
    )
    s = o.inputs.spend[ci, gi, ti]
    fx = o.inputs.fx[ci]
    treated = np.zeros(ci.size, dtype=np.int8)
    if o.design is not None:
        in_design = np.array([c.channel == o.design.channel for c in camps])[ci]
        treated = (in_design & o.design.treated[gi, ti]).astype(np.int8)
    d = o.delivery
    frame = pd.DataFrame(
        {
            "org_id": _cat(np.zeros(ci.size, dtype=np.int64), [o.org.org_id]),
            "source": pd.Categorical([c.source for c in camps])[ci],
            "account_id": pd.Categorical([c.account_id for c in camps])[ci],
            "channel": pd.Categorical([c.channel for c in camps], categories=list(CHANNEL_NAMES))[
                ci
            ],
            "campaign_id": _cat(ci, [c.campaign_id for c in camps]),
            "campaign_name": _cat(ci, [c.name for c in camps]),
            "objective": pd.Categorical([c.objective for c in camps])[ci],
            "message_id": pd.Categorical(msg)[cg],
            "region": _cat(gi, regions),
            "date": np.array(dates, dtype="datetime64[D]")[ti].astype("datetime64[s]"),
            "currency": pd.Categorical([acct[c.account_id].currency for c in camps])[ci],
            "spend": s,
            "spend_org": s * fx,
            "impressions": d.impressions[ci, gi, ti],
            "clicks": d.clicks[ci, gi, ti],
            "sends": o.inputs.sends[ci, gi, ti],
            "delivered": d.delivered[ci, gi, ti],
            "opens": d.opens[ci, gi, ti],
            "platform_conversions": d.conversions[ci, gi, ti],
            "platform_revenue": d.revenue[ci, gi, ti],
            "treated": treated,
            "fp_orders": o.draws.orders[gi, ti],
            "fp_revenue": o.draws.revenue[gi, ti],
            "row_key": pd.array(keys, dtype="str"),
        }
    )
    return frame


def build_outcomes(o: OrgSim, geos: tuple[Geo, ...], dates: list[date]) -> pd.DataFrame:
    """First-party orders and revenue per geo x day (org currency), the causal outcome."""
    grid_g, grid_t = np.meshgrid(np.arange(len(geos)), np.arange(len(dates)), indexing="ij")
    g, t = grid_g.ravel(), grid_t.ravel()
    return pd.DataFrame(
        {
            "org_id": pd.Categorical([o.org.org_id] * g.size),
            "region": _cat(g, [x.code for x in geos]),
            "date": np.array(dates, dtype="datetime64[D]")[t].astype("datetime64[s]"),
            "orders": o.draws.orders[g, t],
            "revenue": o.draws.revenue[g, t],
            "currency": pd.Categorical([o.org.currency] * g.size),
        }
    )


def build_counterfactuals(o: OrgSim, geos: tuple[Geo, ...], dates: list[date]) -> pd.DataFrame:
    """Realised outcomes per geo x day without each channel (its orders stream removed), and
    the expected incremental orders each channel adds."""
    out = build_outcomes(o, geos, dates).rename(
        columns={"orders": "orders_observed", "revenue": "revenue_observed"}
    )
    exact = o.draws.revenue_exact
    for c, name in enumerate(CHANNEL_NAMES):
        out[f"orders_without_{name}"] = (o.draws.orders - o.draws.channel_orders[c]).ravel()
        out[f"revenue_without_{name}"] = np.round(exact - o.draws.channel_revenue[c], 2).ravel()
        out[f"expected_incremental_orders_{name}"] = o.lam[c].ravel()
    out["expected_baseline_orders"] = o.lam_base.ravel()
    return out
