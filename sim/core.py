"""``simulate``: run a named scenario and return every artefact of the simulated world."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .channels import SOURCES
from .errors import SimError
from .geo import MAX_GEOS, select_geos
from .orgsim import OrgSim, simulate_org
from .panel import active_mask, build_counterfactuals, build_outcomes, build_panel
from .products import ProductWorld, simulate_products
from .raw.dirt import inject
from .raw.export import NUMERIC, CampaignTable, RawExport
from .scenarios import Scenario, get_scenario
from .study import StudyTable, build_study
from .truth import SCHEMA_VERSION, config_truth, experiment_truth, noise_truth, org_truth
from .world import World, build_world

Progress = Callable[[str, float], None]
GENERATOR = "liftos-sim/1"


@dataclass(frozen=True, slots=True)
class SimResult:
    """Everything one run produced.

    panel
        Clean campaign x geo x day rows (see ``sim.panel.PANEL_COLUMNS``): spend in account
        currency and org currency, delivery, platform-attributed conversions/revenue (account
        currency; these over-claim), ``treated`` (the embedded design's treatment), the geo-day
        first-party outcome (``fp_orders``, ``fp_revenue``) and the ``row_key`` linking each row
        to its raw export line.
    outcomes
        First-party orders and revenue per org x geo x day: the causal outcome.
    raw
        Per source, the export lines in order, dirt included (a lazy list-like ``RawExport``).
    truth
        The JSON-able truth file (see :mod:`sim.truth`).
    experiments
        Experiment-registry entries (plain dicts).
    accounts
        One dict per platform account: ids, time zone, currency, geo keys.
    counterfactuals
        Per geo x day: observed outcomes, outcomes without each channel, expected increments.
    study
        The study table of an identification scenario, else None (see :func:`study_table`).
    """

    scenario: str
    seed: int
    dates: tuple[date, ...]
    panel: pd.DataFrame
    outcomes: pd.DataFrame
    raw: dict[str, RawExport]
    truth: dict[str, Any]
    experiments: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    counterfactuals: pd.DataFrame
    study: StudyTable | None
    products: ProductWorld | None = None  # the product layer, when the scenario enables it


def _check(name: str, value: int | None, lo: int, hi: int) -> None:
    if value is not None and not lo <= value <= hi:
        raise SimError(f"{name} must be between {lo} and {hi}, got {value}", field=name)


def resolve(scenario: str, **overrides: Any) -> Scenario:
    """The scenario with size overrides applied and validated."""
    sc = get_scenario(scenario)
    _check("days", overrides.get("days"), 28, 3660)
    _check("n_geos", overrides.get("n_geos"), 2, MAX_GEOS)
    _check("n_campaigns", overrides.get("n_campaigns"), 7, 5000)
    _check("n_orgs", overrides.get("n_orgs"), 1, 50)
    _check("products", overrides.get("products"), 0, 6)
    return sc.with_overrides(**overrides)


def simulate(
    scenario: str = "demo",
    *,
    seed: int = 0,
    days: int | None = None,
    start: date | None = None,
    n_orgs: int | None = None,
    n_geos: int | None = None,
    n_campaigns: int | None = None,
    confounding: float | None = None,
    dirt: bool = True,
    progress: Progress | None = None,
    products: int | None = None,
    product_orders_per_day: float | None = None,
) -> SimResult:
    """Simulate a marketing world with known causal truth.

    Parameters
    ----------
    scenario : str
        A name from ``sim.SCENARIOS``.
    seed : int
        Same seed and arguments give identical results (and byte-identical files).
    days, start, n_orgs, n_geos, n_campaigns, confounding
        Override the scenario's size and confounding strength.
    dirt : bool
        Inject dirty rows into the raw exports (listed in ``truth["dirty_rows"]``).
    products : int, optional
        Product categories of the product layer (:mod:`sim.products`); overrides the
        scenario's, 0 turns it off.
    product_orders_per_day : float, optional
        The store's orders per day at demand index 0 (sizes the orders export).
    progress : callable(stage, fraction), optional
        Called as generation advances.

    Returns
    -------
    SimResult
    """
    if seed < 0:
        raise SimError("seed must be non-negative", field="seed")
    sc = resolve(
        scenario,
        days=days,
        start=start,
        n_orgs=n_orgs,
        n_geos=n_geos,
        n_campaigns=n_campaigns,
        confounding=confounding,
        products=products,
        product_orders_per_day=product_orders_per_day,
    )
    report = progress or (lambda stage, frac: None)
    dates = [sc.start + timedelta(days=i) for i in range(sc.days)]
    geos = select_geos(sc.n_geos)
    world_scenario = sc.design is None or sc.name == "demo"
    world = build_world(
        np.random.default_rng([seed, 1]),
        n_orgs=sc.n_orgs,
        geos=geos,
        n_campaigns=sc.n_campaigns,
        days=sc.days,
        foreign_currency=world_scenario,
        staggered_starts=world_scenario,
    )
    report("world", 0.05)
    sims: list[OrgSim] = []
    for k, org in enumerate(world.orgs):
        camps = [c for c in world.campaigns if c.org_id == org.org_id]
        accts = [a for a in world.accounts if a.org_id == org.org_id]
        sims.append(simulate_org(seed, k, org, camps, accts, geos, dates, sc, with_design=k == 0))
        report(f"org {k + 1}/{len(world.orgs)}", 0.05 + 0.55 * (k + 1) / len(world.orgs))
    panel = pd.concat(
        [build_panel(o, geos, dates, world.klaviyo_messages) for o in sims], ignore_index=True
    )
    outcomes = pd.concat([build_outcomes(o, geos, dates) for o in sims], ignore_index=True)
    counterfactuals = pd.concat(
        [build_counterfactuals(o, geos, dates) for o in sims], ignore_index=True
    )
    report("panel", 0.75)
    raw = {s: _export(s, sims, world, dates) for s in SOURCES}
    dirty: list[dict[str, Any]] = []
    if dirt:
        for i, s in enumerate(SOURCES):
            dirty += inject(
                raw[s],
                np.random.default_rng([seed, 8, i]),
                sc.dirt_rate,
                sc.min_dirt_per_kind,
                dates[-1],
            )
    report("exports", 0.85)
    experiments, exp_truth = _experiments(sims, geos, dates)
    study = build_study(sims[0], geos, dates) if sims[0].design is not None else None
    truth: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generator": GENERATOR,
        "scenario": sc.name,
        "description": sc.description,
        "seed": seed,
        "start": dates[0].isoformat(),
        "days": sc.days,
        "dates": [d.isoformat() for d in dates],
        "config": config_truth(sc),
        "geos": [
            {"code": g.code, "name": g.name, "population_m": g.population_m, "timezone": g.timezone}
            for g in geos
        ],
        "orgs": {o.org.org_id: org_truth(o, dates) for o in sims},
        "noise": noise_truth(seed),
        "experiments": exp_truth,
        "designs": [_design_truth(o, geos) for o in sims if o.design is not None],
        "study": None
        if study is None
        else {
            "design": study.design,
            "estimand": study.estimand,
            "true_effect": study.true_effect,
            "method_hint": study.method_hint,
            "units": study.units,
            "roles": study.roles,
            "extra": study.truth,
        },
        "dirty_rows": dirty,
    }
    pw = None
    if sc.products:
        pw = simulate_products(
            seed,
            sims,
            [g.code for g in geos],
            dates,
            n_categories=sc.products,
            orders_per_day=sc.product_orders_per_day,
            confounding=sc.confounding,
            dirt=dirt,
        )
        truth["config"]["products"] = sc.products
        truth["config"]["product_orders_per_day"] = sc.product_orders_per_day
        truth["products"] = pw.truth
    report("truth", 1.0)
    return SimResult(
        sc.name,
        seed,
        tuple(dates),
        panel,
        outcomes,
        raw,
        truth,
        experiments,
        _accounts(world),
        counterfactuals,
        study,
        pw,
    )


def study_table(result: SimResult) -> StudyTable:
    """The estimator-ready table of an identification scenario, with its true effect."""
    if result.study is None:
        raise SimError(
            f"scenario {result.scenario!r} embeds no identification design",
            field="scenario",
            reason="NO_STUDY_TABLE",
        )
    return result.study


def _geo_keys(source: str, world: World, org_id: str) -> list[str]:
    if source == "meta":
        return [g.name for g in world.geos]
    if source == "google_ads":
        return [g.google_geo_target for g in world.geos]
    if source == "tiktok":
        return [g.tiktok_province_id for g in world.geos]
    return [world.klaviyo_segments[org_id][g.code] for g in world.geos]


def _export(source: str, sims: list[OrgSim], world: World, dates: list[date]) -> RawExport:
    """The clean export of one source: its rows sorted by (day, campaign, geo)."""
    acct = {a.account_id: a for a in world.accounts}
    table = CampaignTable([], [], [], [], [], [], [], [], [])
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("camp", "geo", "day", *NUMERIC)}
    for o in sims:
        idx = [i for i, c in enumerate(o.campaigns) if c.source == source]
        offset = len(table.campaign_id)
        for i in idx:
            c = o.campaigns[i]
            a = acct[c.account_id]
            table.org_id.append(c.org_id)
            table.account_id.append(c.account_id)
            table.account_name.append(a.name)
            table.currency.append(a.currency)
            table.timezone.append(a.timezone)
            table.campaign_id.append(c.campaign_id)
            table.campaign_name.append(c.name)
            table.objective.append(c.objective)
            table.message_ids.append(world.klaviyo_messages.get(c.campaign_id))
        sel = np.array(idx, dtype=np.int64)
        ci, gi, ti = np.nonzero(active_mask(o)[sel])
        parts["camp"].append(ci + offset)
        parts["geo"].append(gi)
        parts["day"].append(ti)
        cg = (sel[ci], gi, ti)
        d = o.delivery
        cols = {
            "spend": o.inputs.spend,
            "impressions": d.impressions,
            "clicks": d.clicks,
            "conversions": d.conversions,
            "revenue": d.revenue,
            "click_1d": d.click_1d,
            "click_7d": d.click_7d,
            "view_1d": d.view_1d,
            "sends": o.inputs.sends,
            "delivered": d.delivered,
            "opens": d.opens,
        }
        for k in NUMERIC:
            parts[k].append(cols[k][cg])
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.lexsort((cat["geo"], cat["camp"], cat["day"]))
    cat = {k: v[order] for k, v in cat.items()}
    bounds: dict[str, list[tuple[str, str]]] = {}
    if source == "klaviyo":
        for tz in sorted(set(table.timezone)):
            z = ZoneInfo(tz)
            days = [*dates, dates[-1] + timedelta(days=1)]
            stamps = [datetime.combine(d, time(0), z).isoformat() for d in days]
            bounds[tz] = list(itertools.pairwise(stamps))
    return RawExport(
        source,
        table,
        [g.code for g in world.geos],
        {o.org.org_id: _geo_keys(source, world, o.org.org_id) for o in sims},
        [d.isoformat() for d in dates],
        bounds,
        cat["camp"],
        cat["geo"],
        cat["day"],
        {k: cat[k] for k in NUMERIC},
    )


def _accounts(world: World) -> list[dict[str, Any]]:
    out = []
    for a in world.accounts:
        keys = _geo_keys(a.source, world, a.org_id)
        out.append(
            {
                "org_id": a.org_id,
                "source": a.source,
                "account_id": a.account_id,
                "name": a.name,
                "currency": a.currency,
                "timezone": a.timezone,
                "fx_to_org_currency": a.fx_to_org,
                "geo_keys": {k: g.code for k, g in zip(keys, world.geos, strict=True)},
            }
        )
    return out


def _experiments(
    sims: list[OrgSim], geos: Any, dates: list[date]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entries, truths = [], []
    for o in sims:
        d = o.design
        if d is None or d.kind != "geo_holdout":
            continue
        eid = f"exp_{o.org.org_id}_001"
        s, n = int(d.info["window_start_day"]), int(d.info["window_days"])
        mask = np.asarray(d.info["treatment_geo_mask"], dtype=bool)
        camps = [c for c in o.campaigns if c.channel == d.channel]
        entries.append(
            {
                "experiment_id": eid,
                "org_id": o.org.org_id,
                "name": f"{d.channel.replace('_', ' ').title()} geo holdout",
                "start_date": dates[s].isoformat(),
                "end_date": dates[s + n - 1].isoformat(),
                "pre_period_start": dates[s - int(d.info["pre_days"])].isoformat(),
                "treatment_type": "geo_holdout",
                "randomization_unit": "geo",
                "assignment": "matched_pairs_by_population",
                "treatment_units": [g.code for g, m in zip(geos, mask, strict=True) if m],
                "control_units": [g.code for g, m in zip(geos, mask, strict=True) if not m],
                "channel": d.channel,
                "source": camps[0].source if camps else None,
                "account_id": camps[0].account_id if camps else None,
                "campaign_ids": [c.campaign_id for c in camps],
                "treatment_config": d.info["treatment_config"],
                "control_config": d.info["control_config"],
                "primary_metric": "first_party_revenue",
                "status": "completed",
            }
        )
        truths.append(experiment_truth(o, eid))
    return entries, truths


def _design_truth(o: OrgSim, geos: Any) -> dict[str, Any]:
    d = o.design
    assert d is not None and o.potential is not None
    tau = o.potential.y1(d.treated) - o.potential.y0(d.treated)
    info = {k: v for k, v in d.info.items() if k != "treatment_geo_mask"}
    return {
        "kind": d.kind,
        "org_id": o.org.org_id,
        "channel": d.channel,
        "info": info,
        "treated_geo_days": int(d.treated.sum()),
        "att_revenue_per_geo_day": float(tau[d.treated].mean()) if d.treated.any() else 0.0,
        "ate_revenue_per_geo_day": float(tau.mean()),
    }
