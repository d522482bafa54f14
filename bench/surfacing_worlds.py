"""Simulated worlds for the surfacing benchmarks: the attribution model's response curves as
the planner reads them, and the data-generating process's own curves to score them against.

``planning_model`` reads an attribution report exactly as the services do: the causal
service's converter makes the stored AttributionResult (with its ``ChannelResponseModel``s,
``causal_svc.attribution.planning``) and the surfacing service's converter reads it into
:class:`surfacing_svc.curves.HillCurve` s.

``true_curves`` is the same object built from the simulator's truth: channel ``c`` adds
``aov · β · pop · exp(ε log_index) · Hill(adstock(x) / pop; K, S)`` expected revenue per
geo-day (``sim.outcomes.channel_lambda``), exactly a Hill sum with one node per geo-day.
"""

from __future__ import annotations

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb

import sim
from causal_svc import convert as causal_convert
from causal_svc.attribution import AttributionReport
from sim.channels import CHANNEL_NAMES
from sim.demand import combine_log_index
from sim.media import adstock, weibull_weights
from surfacing_svc import convert as surfacing_convert
from surfacing_svc.curves import HillCurve
from surfacing_svc.planning import PlanningModel


def planning_model(report: AttributionReport, analysis_id: str = "bench") -> PlanningModel:
    """An attribution report as the surfacing service reads it: through the causal service's
    converter to the AttributionResult it stores, then the surfacing service's own reader."""
    result = causal_convert.report_to_proto(
        report, causal_convert.ReportContext(analysis_id, "bench", 0, "bench", currency="USD")
    )
    analysis = causal_pb.Analysis(
        analysis_id=analysis_id, org_id="bench", kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION,
        attribution=result,
    )  # fmt: skip
    return surfacing_convert.planning_model(analysis)


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
