"""Re-apply the DGP: rebuild the first-party outcomes from the truth file and the observed
inputs alone (no generator state), as a check that the truth is complete and exact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .channels import CHANNEL_NAMES
from .demand import combine_log_index
from .orgsim import STREAM_OUTCOME
from .outcomes import base_lambda, channel_lambda, draw_outcomes


def expected_orders(
    truth: dict[str, Any], panel: pd.DataFrame
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per org, the mean baseline orders (G, T) and each channel's mean incremental orders
    (7, G, T), recomputed from the truth's parameters and the panel's observed inputs."""
    return {org_id: (lb, lam) for org_id, _, lb, lam in _lambdas(truth, panel)}


def _lambdas(truth: dict[str, Any], panel: pd.DataFrame):  # type: ignore[no-untyped-def]
    codes = [g["code"] for g in truth["geos"]]
    pop = np.array([g["population_m"] for g in truth["geos"]])
    dates = pd.to_datetime(pd.Series(truth["dates"])).to_numpy(dtype="datetime64[s]")
    n_days = len(dates)
    geo_ix = {c: i for i, c in enumerate(codes)}
    for org_index, (org_id, ot) in enumerate(truth["orgs"].items()):
        dm = ot["demand"]
        comps = {k: np.asarray(v, dtype=np.float64) for k, v in dm["components"].items()}
        log_index = combine_log_index(
            comps,
            np.asarray(dm["yearly"]),
            np.asarray(dm["geo"]["season_loading"]),
            np.asarray(dm["geo"]["geo_trend"]),
            np.asarray(dm["shock"]),
        )
        lam_base = base_lambda(
            dm["params"]["base_rate"], pop, np.asarray(dm["geo"]["affinity"]), log_index
        )
        rows = panel[panel["org_id"].astype(str) == org_id]
        g = rows["region"].astype(str).map(geo_ix).to_numpy()
        t = (
            (rows["date"].to_numpy(dtype="datetime64[s]") - dates[0]) // np.timedelta64(1, "D")
        ).astype(np.int64)
        fx = rows["account_id"].astype(str).map(ot["fx"]).to_numpy(dtype=np.float64)
        email = rows["channel"].astype(str).to_numpy() == "klaviyo_email"
        per_row = np.where(
            email, rows["sends"].to_numpy(dtype=np.float64), rows["spend"].to_numpy() * fx
        )
        camp = rows["campaign_id"].astype(str).to_numpy()
        chan = rows["channel"].astype(str).to_numpy()
        x = np.zeros((len(CHANNEL_NAMES), len(codes), n_days))
        # Sum campaign by campaign in the panel's (generation) order, as generation does.
        _, first = np.unique(camp, return_index=True)
        for start in np.sort(first):
            sel = camp == camp[start]
            grid = np.zeros((len(codes), n_days))
            grid[g[sel], t[sel]] = per_row[sel]
            c = CHANNEL_NAMES.index(chan[start])
            x[c] = x[c] + grid
        lam = np.stack(
            [
                channel_lambda(x[c], pop, log_index, ot["media"][name])
                for c, name in enumerate(CHANNEL_NAMES)
            ]
        )
        yield org_id, org_index, lam_base, lam


def reapply(truth: dict[str, Any], panel: pd.DataFrame) -> pd.DataFrame:
    """First-party orders and revenue per org x geo x day recomputed from ``truth`` (as loaded
    from ``truth.json``) and the panel's spend and sends.

    Parameters
    ----------
    truth : dict
        The truth file.
    panel : DataFrame
        The clean panel (``SimResult.panel``), rows in its original order.

    Returns
    -------
    DataFrame with columns org_id, region, date, orders, revenue.
    """
    codes = np.array([g["code"] for g in truth["geos"]])
    dates = pd.to_datetime(pd.Series(truth["dates"])).to_numpy(dtype="datetime64[s]")
    out = []
    for org_id, org_index, lam_base, lam in _lambdas(truth, panel):
        rng = np.random.default_rng([truth["seed"], STREAM_OUTCOME, org_index])
        draws = draw_outcomes(rng, lam_base, lam, truth["orgs"][org_id]["aov"])
        gg, tt = np.meshgrid(np.arange(codes.size), np.arange(dates.size), indexing="ij")
        out.append(
            pd.DataFrame(
                {
                    "org_id": org_id,
                    "region": codes[gg.ravel()],
                    "date": dates[tt.ravel()],
                    "orders": draws.orders.ravel(),
                    "revenue": draws.revenue.ravel(),
                }
            )
        )
    return pd.concat(out, ignore_index=True)
