"""Our data promises, measured: the ingestion detectors' confounders against the simulator's
truth (:func:`sim.confounders.confounder_truth`), the share of records with temporal
consistency, and the causal quality score by source.

Each world is simulated, its experiment and external series registered and every raw export
streamed through Ingest into memory on a fresh mesh, exactly as ``liftos demo`` does; the
records scanned back are joined to the truth on (campaign, geo, day). Per kind, a record is
*detected* when a confounder of that kind is live on it:

============  =======================================================================
kind          detectors
============  =======================================================================
holiday       holiday_proximity
seasonal_peak retail_peak_season
macro_shock   the registered macro series (consumer_confidence)
competitor    the registered competitor series (competitor_activity)
promotion     the registered promotions series, promotional_campaign (campaign names)
budget        budget_response
============  =======================================================================

Targets (issue 19): recall >= 95% and precision >= 90% per kind; LiftOS promises 95%
confounder detection and 100% temporal consistency.

Beside the live figures, in the same run, for the two kinds short of the target:

* the rules the detectors replaced, on the same worlds: budget response against each
  series' 28-day *mean* (recomputed from the records' spend, per source and day, as a batch
  groups them; the shipped median rule recomputed the same way is printed too, so the
  recomputation's own error shows), and the macro z-score rule ``|z| >= 0.5``;
* ``budget_response_so_far``, a second truth printed next to the simulator's, never instead
  of it: the simulator counts a row when ``confounding × |log_index − its mean over the
  whole run|`` >= 0.25, a mean that includes days after the row's, which nothing ingesting
  that day can see. The restatement is the same quantity with the run's mean replaced by the
  mean over the run *so far* (every earlier day; rows with fewer than 7 earlier days are left
  out of it).

``--macro-rules`` scores, per day and without a mesh, the z-score rule and the shipped
step rule (``ingestion_svc.confounder_macro``) against the macro truth over many worlds: it
is where the step threshold was chosen (worlds 1-3 and 20-59) and can be checked on others.

``--macro-ceiling`` asks instead what a macro detector that weighs the index's effect could
reach: per world, without a mesh, it regresses the log of the org's first-party orders per
geo-day on the registered macro index with every control the org has (the competitor and
promotion series, a trend, weekday and geo effects, a dummy for each day from 20 November
to 2 January) over the whole run, in hindsight, and flags the days where the estimated
effect moves demand by the truth's own materiality (``MACRO_LOG_MOVE``). It prints the
estimate against the simulator's ``macro_coef`` and that rule's recall and precision beside
the shipped z-score rule's.

Run: PYTHONPATH=.:gen python bench/confounder_detection.py [--seeds 1 2 3] [--scenario demo]
     PYTHONPATH=.:gen python bench/confounder_detection.py --macro-ceiling --seeds 4 5 ... 15
     PYTHONPATH=.:gen python bench/confounder_detection.py --macro-rules --seeds 60 61 ... 99
     PYTHONPATH=.:gen python bench/confounder_detection.py --budget-ceiling --seeds 1 2 3

``--retro --seeds …`` scores the analysis-time detector (``causal_svc.confounders_retro``) on
many worlds without a mesh, per 3-world group and pooled; ``--speed [--runs 5]`` times it on the
attribution speed bench's world (a year × 50 geos × 30 campaigns).

``--retro --per-campaign`` feeds the same detector spend per campaign × geo × day (the grain
the records hold) for its per-geo reading, as the mesh run's analysis-time detector reads it
from memory (AggregateRecords' ``campaign_geo_days``, through causal's own reader).

``--retro-ceiling [--per-campaign] --seeds …`` splits that detector's error into the part every
geo shares and each geo's own, and scores it with either part replaced by the truth's (where
the error sits, and what each part's ceiling is).

``--macro-retro --seeds …`` scores the analysis-time macro detector
(``causal_svc.confounders_macro``: the index's effect on the org's orders, weighed with the
ingest rule's) per platform row without a mesh, beside the ingest step rule on the same rows,
per 3-world group and pooled, and prints the effect's error against ``macro_coef``. The mesh
run's "analysis time" table carries it too, over memory's first-party orders.

``--budget-ceiling`` asks what any budget detector could reach on that truth: an oracle that
knows each geo-day's true move against the whole run's mean, blurred by a measurement error
of a given size (a source's 3-5 campaigns measure a geo-day's move to ~0.07 in logs).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from bench._figures import figure
from bench.confounder_ceilings import budget_ceiling, macro_ceiling, macro_rules, recall_precision
from causal_svc.confounders_macro import MacroShock, detect_macro_shock, first_party_orders
from causal_svc.confounders_retro import BudgetResponse, detect_budget_response
from causal_svc.peers import Aggregates, MemoryReader
from ingestion_svc.confounder_budget import (
    FLAG_LOG_MOVE,
    MATERIAL_LOG_MOVE,
    MIN_HISTORY,
    MIN_SERIES,
    row_moves,
)
from ingestion_svc.confounder_macro import MACRO_STEPS, step_ratios
from ingestion_svc.confounders import FACTOR_Z
from mesh.cli.demo import ingest_world, register, scan_records
from mesh.cli.processes import Mesh
from mesh.runtime.aggregates import melt_geo_days, sum_column
from mesh.runtime.config import SERVICES, PeerConfig
from mesh.sdk.client import LiftOS
from sim.confounders import BUDGET_LOG_MOVE, KINDS, MACRO_LOG_MOVE, _demand_chase, confounder_truth
from tests.ports import free_port_block

DETECTORS = {
    "holiday": ("holiday_proximity",),
    "seasonal_peak": ("retail_peak_season",),
    "macro_shock": ("consumer_confidence",),
    "competitor_push": ("competitor_activity",),
    "promotion": ("promotions", "promotional_campaign"),
    "budget_response": ("budget_response",),
}


def _so_far_and_before(result: sim.SimResult, truth: pd.DataFrame) -> pd.DataFrame:
    """The truth plus ``budget_response_so_far`` (NaN where undefined) and ``macro_z_rule``
    (the replaced macro rule on the registered series, per row's day)."""
    dates = [pd.Timestamp(d) for d in result.truth["dates"]]
    regions = [g["code"] for g in result.truth["geos"]]
    t = pd.to_datetime(truth["date"]).map({d: i for i, d in enumerate(dates)}).to_numpy(np.int64)
    g = truth["region"].map({r: i for i, r in enumerate(regions)}).to_numpy(np.int64)
    confounding = float(result.truth["config"]["confounding"])
    so_far = np.full(len(truth), np.nan)
    true_move = np.full(len(truth), np.nan)
    macro_z = np.zeros(len(truth), dtype=bool)
    for org_id, org in result.truth["orgs"].items():
        rows = (truth["org_id"] == org_id).to_numpy()
        demand = org["demand"]
        # the truth's own demand index (less its run mean, which cancels below)
        index = _demand_chase(demand, len(dates))
        earlier = np.cumsum(index, axis=1) - index  # sum over days before each day
        count = np.arange(len(dates), dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            move = confounding * np.abs(index - earlier / count)
        move[:, count < MIN_HISTORY] = np.nan
        active = np.where(np.isnan(move), np.nan, (move >= BUDGET_LOG_MOVE).astype(float))
        paid = rows & (truth["source"].astype(str) != "klaviyo").to_numpy()
        so_far[rows] = np.where(paid[rows], active[g[rows], t[rows]], 0.0)
        true_move[paid] = confounding * index[g[paid], t[paid]]
        macro = np.asarray(demand["params"]["series"]["macro_index"], dtype=float)
        z_rule = np.abs(macro - macro.mean()) / macro.std(ddof=1) >= FACTOR_Z
        macro_z[rows] = z_rule[t[rows]]
    return truth.assign(
        budget_response_so_far=so_far, budget_move_true=true_move, macro_z_rule=macro_z
    )


def memory_sums(memory_target: str, org_id: str) -> Aggregates:
    """Memory's sums over everything the org holds, read as AnalyzeAttribution's confounders
    step reads them (causal's own reader: campaign sources, and the spend per campaign × geo ×
    day the budget-response detector takes): geo × day, campaign × day, campaign × geo × day."""

    async def read() -> Aggregates:
        reader = MemoryReader(memory_target)
        try:
            return await reader.aggregate(org_id, None, None, campaign_geo=True, timeout=120)
        finally:
            await reader.close()

    return asyncio.run(read())


def _world(
    scenario: str, seed: int, data_dir: Path
) -> tuple[pd.DataFrame, pd.DataFrame, BudgetResponse, MacroShock]:
    """(records scanned back from memory, the confounder truth, the analysis-time budget
    response and macro shock over memory's sums) for one simulated world."""
    result = sim.simulate(scenario, seed=seed)
    world = data_dir / "world"
    sim.write(result, world)
    org_id = json.loads((world / "accounts.json").read_text())[0]["org_id"]
    # free ports, not the defaults: other meshes (another run, a developer's) may be up
    base = free_port_block(len(SERVICES))
    mesh = Mesh(data_dir, ports={s: base + i for i, s in enumerate(SERVICES)})
    peers = PeerConfig(**{s: mesh.address(s) for s in mesh.ports})
    mesh.start()
    quiet = io.StringIO()

    def out(line: str) -> None:
        quiet.write(line + "\n")

    try:
        with LiftOS(peers, org_id=org_id) as client:
            mesh.wait_serving(client.health)
            register(client, world, org_id, out)
            ingest_world(client, world, org_id, out, progress=False)
            records = scan_records(peers.memory, org_id)
            sums = memory_sums(peers.memory, org_id)
    finally:
        mesh.stop()
    geo_days = sums.geo_days
    # what budget_response_line reads in the service (it prints only the line)
    retro = detect_budget_response(geo_days, sums.campaign_days,
                                   campaign_geo_days=sums.campaign_geo_days)  # fmt: skip
    # the registered series (as register() sent them) and memory's first-party orders per day
    inputs = macro_inputs(result)
    inputs["order_days"], inputs["orders"] = first_party_orders(geo_days)
    macro = detect_macro_shock(**inputs)  # type: ignore[arg-type]
    return records, _so_far_and_before(result, confounder_truth(result)), retro, macro


def _joined(
    records: pd.DataFrame,
    truth: pd.DataFrame,
    retro: BudgetResponse | None = None,
    macro: MacroShock | None = None,
) -> pd.DataFrame:
    platform = records[records["campaign_id"].astype(str) != ""].copy()
    platform["region"] = platform["geo"].astype(str).str.rsplit("-", n=1).str[-1]
    platform["date"] = pd.to_datetime(platform["local_date"])
    platform["campaign_id"] = platform["campaign_id"].astype(str)
    truth = truth.assign(date=pd.to_datetime(truth["date"]))
    keys = ["campaign_id", "region", "date"]
    joined = platform.merge(truth.drop(columns="source"), on=keys, how="inner")
    for kind, names in DETECTORS.items():
        columns = [f"confounder__{n}" for n in names if f"confounder__{n}" in joined.columns]
        live = np.zeros(len(joined), dtype=bool)
        for c in columns:
            live |= joined[c].notna().to_numpy()
        joined[f"detected_{kind}"] = live
    if retro is not None:
        # analysis time: every paid campaign row of a flagged geo-day (Klaviyo never)
        paid = ~joined["data_source"].astype(str).isin(["klaviyo", "generic"]).to_numpy()
        flags = retro.flags_for(joined["geo"].astype(str), joined["date"])
        joined["retro_budget_response"] = paid & flags
    if macro is not None:
        joined["retro_macro_shock"] = macro.flags_for(joined["date"].to_numpy())
    return _budget_rules(joined)


def _legacy_moves(cube: np.ndarray) -> np.ndarray:
    """The replaced row move: log spend against the *mean* log spend of 28 days."""
    logs = np.log(np.where(cube[:, :, 0] > 0, cube[:, :, 0], np.nan))
    known = np.isfinite(logs[:, 1:]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        base = np.nansum(logs[:, 1:], axis=1) / known
    return np.where((known >= MIN_HISTORY) & np.isfinite(logs[:, 0]), logs[:, 0] - base, np.nan)


def _budget_rules(joined: pd.DataFrame) -> pd.DataFrame:
    """``budget_rule_before`` / ``budget_rule_now``: the 28-day mean at 0.25 and the shipped
    median rule recomputed from the records' own spend, the common move per source and day."""
    paid = joined["data_source"].isin(["meta", "google_ads", "tiktok"]).to_numpy()
    before = np.zeros(len(joined), dtype=bool)
    now = np.zeros(len(joined), dtype=bool)
    measured = np.full(len(joined), np.nan)
    rows = joined[paid]
    series = (rows["data_source"].astype(str) + "|" + rows["account_id"].astype(str) + "|"
              + rows["campaign_id"].astype(str) + "|" + rows["geo"].astype(str))  # fmt: skip
    day = (rows["date"] - rows["date"].min()).dt.days.to_numpy()
    code = pd.factorize(series)[0]
    spend = np.full((code.max() + 1, day.max() + 1), np.nan) if len(rows) else np.zeros((0, 0))
    spend[code, day] = rows["spend"].to_numpy(np.float64)
    back = day[:, None] - np.arange(29)[None, :]
    cube = np.full((len(rows), 29, 3), np.nan)
    cube[:, :, 0] = np.where(back >= 0, spend[code[:, None], np.clip(back, 0, None)], np.nan)
    group = rows["data_source"].astype(str) + "|" + rows["date"].astype(str)
    for out, moves, flag in (
        (before, _legacy_moves(cube), MATERIAL_LOG_MOVE),
        (now, row_moves(cube), FLAG_LOG_MOVE),
    ):
        frame = pd.DataFrame({"group": group.to_numpy(), "move": moves})
        common = frame.groupby("group")["move"].transform("mean").to_numpy()
        count = frame.groupby("group")["move"].transform("count").to_numpy()
        out[paid] = (count >= MIN_SERIES) & (np.abs(np.nan_to_num(common)) >= flag)
        measured[paid] = np.where(count >= MIN_SERIES, common, np.nan)  # the shipped move last
    return joined.assign(budget_rule_before=before, budget_rule_now=now, budget_move=measured)


def before_and_after(joined: pd.DataFrame) -> pd.DataFrame:
    """The two kinds short of the target: the replaced rules beside the live detectors, and
    budget response against the truth restated with past days only."""
    br = joined["budget_response"].to_numpy(float)
    so_far = joined["budget_response_so_far"].to_numpy(float)
    rows = {
        ("budget_response", "28-day mean at 0.25 (before), recomputed"): (br, joined["budget_rule_before"]),
        ("budget_response", "28-day median at 0.28, recomputed"): (br, joined["budget_rule_now"]),
        ("budget_response", "live detector"): (br, joined["detected_budget_response"]),
        ("budget_response_so_far", "28-day mean at 0.25 (before), recomputed"): (
            so_far, joined["budget_rule_before"]),
        ("budget_response_so_far", "live detector"): (so_far, joined["detected_budget_response"]),
        ("macro_shock", "|z| >= 0.5 (before)"): (
            joined["macro_shock"].to_numpy(float), joined["macro_z_rule"]),
        ("macro_shock", "live detector"): (
            joined["macro_shock"].to_numpy(float), joined["detected_macro_shock"]),
    }  # fmt: skip
    return pd.DataFrame(
        [
            {"truth": k, "rule": r, **recall_precision(t, f.to_numpy())}
            for (k, r), (t, f) in rows.items()
        ]
    ).set_index(["truth", "rule"])


def analysis_time(joined: pd.DataFrame) -> pd.DataFrame:
    """Per kind, the ingest detectors beside the analysis-time ones (same rows, same truth).
    Budget response and macro shock have their own analysis-time detectors; the other national
    kinds read registered series and the calendar, which ingest already sees whole, so they
    are the same there."""
    rows = []
    for kind in KINDS:
        truth = joined[kind].to_numpy(float)
        ingest = recall_precision(truth, joined[f"detected_{kind}"].to_numpy())
        column = (f"retro_{kind}" if kind in ("budget_response", "macro_shock")
                  and f"retro_{kind}" in joined.columns else f"detected_{kind}")  # fmt: skip
        retro = recall_precision(truth, joined[column].to_numpy())
        rows.append({"kind": kind, "active rows": ingest["active rows"],
                     "ingest: recall": ingest["recall"], "ingest: precision": ingest["precision"],
                     "analysis time: recall": retro["recall"],
                     "analysis time: precision": retro["precision"],
                     "analysis time: meets 95/90": retro["meets 95/90"]})  # fmt: skip
    return pd.DataFrame(rows).set_index("kind")


def simulated_sums(result: sim.SimResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The world's clean panel summed as memory's AggregateRecords answers it (wide geo × day,
    long campaign × day; days since 1970-01-01), without a mesh: paid spend, Klaviyo
    recipients as impressions, the store's orders as first-party conversions. What memory
    holds after Ingest differs by the dirt it rejected or repaired."""
    panel = result.panel
    day = (pd.to_datetime(panel["date"]) - pd.Timestamp("1970-01-01")).dt.days
    panel = panel.assign(day=day, geo="US-" + panel["region"].astype(str))
    media = panel.groupby(["day", "geo", "source", "channel"], as_index=False).agg(
        spend=("spend_org", "sum"), impressions=("sends", "sum"))  # fmt: skip
    wide = media.pivot_table(index=["day", "geo"], columns=["source", "channel"],
                             values=["spend", "impressions"])  # fmt: skip
    columns = {sum_column(src, ch, m): v.to_numpy(np.float64)
               for (m, src, ch), v in wide.items() if v.abs().sum() > 0}  # fmt: skip
    geo_days = pd.DataFrame(columns, index=wide.index)
    orders = panel.groupby(["day", "geo"])["fp_orders"].first().reindex(wide.index)
    geo_days[sum_column("generic", "", "conversions")] = orders.to_numpy(np.float64)
    geo_days = geo_days.fillna(0.0).reset_index().rename(columns={"day": "date"})
    campaign_days = (panel.groupby(["day", "campaign_id", "source", "channel"], as_index=False)
                     ["spend_org"].sum().rename(columns={"day": "date", "spend_org": "spend"}))  # fmt: skip
    return geo_days, campaign_days


def campaign_geo_sums(result: sim.SimResult) -> pd.DataFrame:
    """Paid spend per campaign × geo × day (the grain the records hold; memory's
    AggregateRecords answers it with ``campaign_geo_spend``), from the world's clean panel."""
    panel = result.panel.loc[~result.panel["source"].astype(str).isin(["klaviyo"])]
    day = (pd.to_datetime(panel["date"]) - pd.Timestamp("1970-01-01")).dt.days
    return (panel.assign(date=day, geo="US-" + panel["region"].astype(str))
            .groupby(["date", "geo", "campaign_id"], as_index=False)["spend_org"].sum()
            .rename(columns={"spend_org": "spend"}))  # fmt: skip


def retro_worlds(
    scenario: str, seeds: list[int], group: int = 3, per_campaign: bool = False
) -> None:
    """Analysis-time budget response on many worlds without a mesh (the simulator's clean
    panel summed as memory sums it; see :func:`simulated_sums`): recall and precision per
    ``group`` consecutive worlds and over the pool, rows weighted as the platforms report."""
    counts: list[tuple[int, float, float, float]] = []
    for seed in seeds:
        result = sim.simulate(scenario, seed=seed)
        extra = campaign_geo_sums(result) if per_campaign else None
        found = detect_budget_response(*simulated_sums(result), campaign_geo_days=extra)
        truth = confounder_truth(result)
        paid = truth.loc[truth["source"].astype(str) != "klaviyo"]
        flagged = found.flags_for("US-" + paid["region"].astype(str), paid["date"])
        active = paid["budget_response"].to_numpy(bool)
        counts.append((seed, float((active & flagged).sum()), float(active.sum()),
                       float(flagged.sum())))  # fmt: skip
    print(f"== budget response at analysis time, {scenario} worlds {seeds[0]}..{seeds[-1]} "
          f"({len(seeds)}), no mesh"
          + (", spend read per campaign × geo × day" if per_campaign else ""))  # fmt: skip
    table = np.array([c[1:] for c in counts])
    for i in range(0, len(counts), group):
        tp, act, fl = table[i : i + group].sum(axis=0)
        print(f"  worlds {counts[i][0]}-{counts[min(i + group, len(counts)) - 1][0]}: "
              f"recall {tp / max(act, 1):.1%} precision {tp / max(fl, 1):.1%}")  # fmt: skip
    tp, act, fl = table.sum(axis=0)
    print(f"  pool: recall {tp / max(act, 1):.1%} precision {tp / max(fl, 1):.1%} "
          f"({act:,.0f} active rows)")  # fmt: skip


def retro_ceiling(
    scenario: str,
    seeds: list[int],
    per_campaign: bool = False,
    flags: tuple[float, ...] = (0.2325, 0.2375, 0.2425, 0.2475),
) -> None:
    """Where the analysis-time budget detector's error sits, without a mesh: its move split
    into the part every geo shares (``national_move``) and each geo's own, each against the
    truth's (``confounding × (log_index − run mean)``; its national part the geos' mean
    weighted by their orders, as the detector weighs them), and recall / precision at several
    thresholds as it is, with the national part exact and with the per-geo part exact (rows
    weighted as the platforms report them)."""
    tally: dict[tuple[str, float], np.ndarray] = {}
    squared = {"national": [0.0, 0], "per geo": [0.0, 0]}
    for seed in seeds:
        result = sim.simulate(scenario, seed=seed)
        geo_days, campaign_days = simulated_sums(result)
        extra = campaign_geo_sums(result) if per_campaign else None
        found = detect_budget_response(geo_days, campaign_days, campaign_geo_days=extra)
        frame = found.geo_days  # geo-major: each geo's days in order
        geos, days = pd.Index(frame["geo"].unique()), pd.DatetimeIndex(frame["date"].unique())
        est = frame["demand_move"].to_numpy().reshape(len(geos), len(days))
        national = frame["national_move"].to_numpy().reshape(len(geos), len(days))[0]
        regions = ["US-" + g["code"] for g in result.truth["geos"]]
        dates = pd.DatetimeIndex(pd.to_datetime(result.truth["dates"]))
        gi, ti = pd.Index(regions).get_indexer(geos), dates.get_indexer(days)
        demand = next(iter(result.truth["orgs"].values()))["demand"]
        confounding = float(result.truth["config"]["confounding"])
        true = (confounding * _demand_chase(demand, len(dates)))[np.ix_(gi, ti)]
        truth = confounder_truth(result)
        paid = truth.loc[truth["source"].astype(str) != "klaviyo"]
        rows = np.zeros((len(regions), len(dates)))
        np.add.at(rows, (pd.Index(regions).get_indexer("US-" + paid["region"].astype(str)),
                         dates.get_indexer(pd.to_datetime(paid["date"]))), 1.0)  # fmt: skip
        rows = rows[np.ix_(gi, ti)]
        orders = geo_days.assign(day=pd.to_datetime(geo_days["date"], unit="D"))
        orders = orders.loc[orders["day"].isin(days)].groupby("geo")[
            sum_column("generic", "", "conversions")].mean().reindex(geos).to_numpy()  # fmt: skip
        true_national = (orders / orders.sum()) @ true
        true_national -= true_national.mean()
        true_geo = true - true_national[None, :]
        for part, error in (("national", national - true_national),
                            ("per geo", est - national[None, :] - true_geo)):  # fmt: skip
            squared[part][0] += float((error**2).sum())
            squared[part][1] += error.size
        active = np.abs(true) >= BUDGET_LOG_MOVE
        variants = {
            "as it is": est,
            "national part exact": est - national[None, :] + true_national[None, :],
            "per-geo part exact": national[None, :] + true_geo,
        }
        for name, move in variants.items():
            for flag in flags:
                flagged = np.abs(move) >= flag
                counts = [(rows * (active & flagged)).sum(), (rows * active).sum(),
                          (rows * flagged).sum()]  # fmt: skip
                tally[(name, flag)] = tally.get((name, flag), np.zeros(3)) + counts
    print(f"== budget response at analysis time, where its error sits: {scenario} worlds "
          f"{seeds[0]}..{seeds[-1]} ({len(seeds)}), no mesh"
          + (", spend read per campaign × geo × day" if per_campaign else ""))  # fmt: skip
    print("  rms error in logs: " + ", ".join(
        f"{k} {np.sqrt(v[0] / max(v[1], 1)):.4f}" for k, v in squared.items()))  # fmt: skip
    for (name, flag), (tp, act, fl) in tally.items():
        print(f"  {name:<20} flag {flag:.4f}: recall {tp / max(act, 1):.1%} "
              f"precision {tp / max(fl, 1):.1%}")  # fmt: skip


def macro_inputs(result: sim.SimResult) -> dict[str, object]:
    """What the analysis-time macro detector reads for a world's org: the registered series
    (as ``liftos demo`` registers them) and the day's first-party orders over every geo."""
    demand = next(iter(result.truth["orgs"].values()))["demand"]
    series = demand["params"]["series"]
    days = np.asarray(result.truth["dates"], dtype="datetime64[D]")
    orders = (
        result.panel.groupby(["region", "date"])["fp_orders"].first().groupby(level="date").sum()
    )
    orders.index = pd.to_datetime(orders.index).to_numpy().astype("datetime64[D]")
    return {
        "index_days": days,
        "index_values": np.asarray(series["macro_index"], dtype=float),
        "order_days": days,
        "orders": orders.reindex(days).fillna(0.0).to_numpy(float),
        "controls": {
            k: np.asarray(series[k], dtype=float) for k in ("competitor_intensity", "promo")
        },
    }


def macro_retro(scenario: str, seeds: list[int], group: int = 3) -> None:
    """Analysis-time macro shock (``causal_svc.confounders_macro``) on many worlds without a
    mesh, per platform row as the suite counts them, beside the ingest step rule on the same
    rows: recall and precision per ``group`` consecutive worlds and pooled, and the effect the
    orders read against the simulator's ``macro_coef``."""
    counts, effects = [], []
    for seed in seeds:
        result = sim.simulate(scenario, seed=seed)
        inputs = macro_inputs(result)
        found = detect_macro_shock(**inputs)  # type: ignore[arg-type]
        x = np.asarray(inputs["index_values"], dtype=float)
        frame = pd.DataFrame({"name": "m", "geo": "", "day": np.arange(x.size), "value": x,
                              "type": "macro", "std": x.std(ddof=1)})  # fmt: skip
        step_rule = np.abs(x - x.mean()) / x.std(ddof=1) * step_ratios(frame)["m"] >= MACRO_STEPS
        truth = confounder_truth(result)
        dates = pd.to_datetime(truth["date"]).to_numpy().astype("datetime64[D]")
        days = np.asarray(inputs["index_days"], dtype="datetime64[D]")
        active = truth["macro_shock"].to_numpy(bool)
        retro = found.flags_for(dates)
        ingest = step_rule[np.searchsorted(days, dates)]
        counts.append((seed, *(float(v) for v in (
            (active & retro).sum(), retro.sum(), (active & ingest).sum(), ingest.sum(),
            active.sum()))))  # fmt: skip
        coef = float(next(iter(result.truth["orgs"].values()))["demand"]["params"]["macro_coef"])
        effects.append((seed, coef, found.estimate, found.std_error, found.effect))
    print(f"== macro shock at analysis time, {scenario} worlds {seeds[0]}..{seeds[-1]} "
          f"({len(seeds)}), no mesh; recall / precision per platform row")  # fmt: skip
    table = np.array([c[1:] for c in counts])

    def line(rows: np.ndarray) -> str:
        tp, fl, tp0, fl0, act = rows.sum(axis=0)
        return (f"analysis time {tp / max(act, 1):.1%} / {tp / max(fl, 1):.1%}   "
                f"ingest step rule {tp0 / max(act, 1):.1%} / {tp0 / max(fl0, 1):.1%}")  # fmt: skip

    met = [0, 0]
    for i in range(0, len(counts), group):
        rows = table[i : i + group]
        tp, fl, tp0, fl0, act = rows.sum(axis=0)
        met[0] += bool(tp >= 0.95 * act and tp >= 0.9 * fl)
        met[1] += bool(tp0 >= 0.95 * act and tp0 >= 0.9 * fl0)
        print(f"  worlds {counts[i][0]}-{counts[min(i + group, len(counts)) - 1][0]}: {line(rows)}")
    print(f"  pool: {line(table)} ({table[:, 4].sum():,.0f} active rows)")
    print(f"  {group}-world groups meeting 95 / 90: analysis time {met[0]}, ingest rule {met[1]} "
          f"of {-(-len(counts) // group)}")  # fmt: skip
    # each world alone: one org's analysis, the unit the promise is made to
    alone = [sum(bool(r[i] >= 0.95 * r[4] and r[i] >= 0.9 * r[i + 1]) for r in table)
             for i in (0, 2)]  # fmt: skip
    print(f"  single worlds meeting 95 / 90: analysis time {alone[0]}, ingest rule {alone[1]} "
          f"of {len(counts)}")  # fmt: skip
    e = pd.DataFrame(effects, columns=["seed", "macro_coef", "estimate", "std_error", "effect"])
    print(f"  effect per index unit: orders' estimate less the truth mean "
          f"{(e['estimate'] - e['macro_coef']).mean():+.4f} sd "
          f"{(e['estimate'] - e['macro_coef']).std():.4f} (mean reported se {e['std_error'].mean():.4f}), "
          f"posterior less the truth sd {(e['effect'] - e['macro_coef']).std():.4f}, "
          f"prior (the ingest rule) less the truth sd {(MACRO_LOG_MOVE / 0.44 - e['macro_coef']).std():.4f}")  # fmt: skip


def retro_speed(runs: int) -> None:
    """The analysis-time detector's cost on the attribution speed bench's world (the
    ``confounded`` scenario at 50 geos × 30 campaigns × 365 days, ``bench/attribution_speed.py``),
    over memory's sums as :func:`simulated_sums` builds them; beside it, in the same run, the
    melt of the same wide table alone (what any reader of those sums pays first)."""
    result = sim.simulate("confounded", seed=0, dirt=False, n_geos=50, n_campaigns=30, days=365)
    geo_days, campaign_days = simulated_sums(result)
    detect, melt = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        found = detect_budget_response(geo_days, campaign_days)
        detect.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        melt_geo_days(geo_days)
        melt.append(time.perf_counter() - t0)
    per_campaign, macro = [], []
    geo_sums = campaign_geo_sums(result)
    inputs = macro_inputs(result)
    for _ in range(runs):
        t0 = time.perf_counter()
        detect_budget_response(geo_days, campaign_days, campaign_geo_days=geo_sums)
        per_campaign.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        detect_macro_shock(**inputs)  # type: ignore[arg-type]
        macro.append(time.perf_counter() - t0)
    print(f"  spend read per campaign × geo × day: median {np.median(per_campaign):.3f} s; "
          f"detect_macro_shock: median {np.median(macro):.3f} s")  # fmt: skip
    d, m = float(np.median(detect)), float(np.median(melt))
    print(f"== budget response at analysis time, cost: 50 geos x 365 days x 30 campaigns "
          f"({len(geo_days):,} geo-days, {len(campaign_days):,} campaign-days), {runs} runs")  # fmt: skip
    print(f"  detect_budget_response: median {d:.3f} s (min {min(detect):.3f}, max "
          f"{max(detect):.3f}); melting the wide table alone {m:.3f} s; ratio {d / m:.1f}x")  # fmt: skip
    print(f"  {found.line()}")
    figure("budget response at analysis time, a year x 50 geos x 30 campaigns", d, "s",
           target="≤ 0.3 (the attribution's confounders step)", met=d <= 0.3)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--scenario", default="demo")
    parser.add_argument("--macro-ceiling", action="store_true")
    parser.add_argument("--macro-rules", action="store_true")
    parser.add_argument("--budget-ceiling", action="store_true")
    parser.add_argument("--retro", action="store_true")
    parser.add_argument("--macro-retro", action="store_true")
    parser.add_argument("--per-campaign", action="store_true")
    parser.add_argument("--retro-ceiling", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.speed:
        retro_speed(args.runs)
        return
    if args.macro_retro:
        macro_retro(args.scenario, args.seeds)
        return
    if args.retro_ceiling:
        retro_ceiling(args.scenario, args.seeds, per_campaign=args.per_campaign)
        return
    if args.retro:
        retro_worlds(args.scenario, args.seeds, per_campaign=args.per_campaign)
        return
    if args.budget_ceiling:
        budget_ceiling(args.scenario, args.seeds, (0.01, 0.02, 0.03, 0.05, 0.07))
        return
    if args.macro_ceiling:
        macro_ceiling(args.scenario, args.seeds)
        return
    if args.macro_rules:
        macro_rules(args.scenario, args.seeds)
        return
    parts, records_all = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="liftos-confounders-") as tmp:
            records, truth, retro, macro = _world(args.scenario, seed, Path(tmp))
        joined = _joined(records, truth, retro, macro)
        parts.append(joined.assign(seed=seed))
        records_all.append(records.assign(seed=seed))
        print(f"  world {seed}: {len(records):,} records, {len(joined):,} joined to the truth")
    joined = pd.concat(parts, ignore_index=True)
    records = pd.concat(records_all, ignore_index=True)
    rows = []
    for kind in KINDS:
        truth_on, found = joined[kind].to_numpy(), joined[f"detected_{kind}"].to_numpy()
        tp = int((truth_on & found).sum())
        rows.append(
            {
                "kind": kind,
                "active rows": int(truth_on.sum()),
                "detected rows": int(found.sum()),
                "recall": tp / max(int(truth_on.sum()), 1),
                "precision": tp / max(int(found.sum()), 1),
                "meets 95/90": tp >= 0.95 * truth_on.sum() and tp >= 0.9 * found.sum(),
            }
        )
    pd.set_option("display.width", 160)
    print(f"\n== confounder detection, {args.scenario} worlds {args.seeds}, "
          f"{len(joined):,} platform records (campaign × geo × day)")  # fmt: skip
    print(pd.DataFrame(rows).set_index("kind").round(3).to_string())
    print("\n== at analysis time (causal_svc.confounders_retro over memory's AggregateRecords "
          "sums, the whole window), same worlds, same truth")  # fmt: skip
    print(analysis_time(joined).round(3).to_string())
    print("\n== the kinds short of the target: the replaced rules beside the live detectors "
          "(same worlds, same run)")  # fmt: skip
    print(before_and_after(joined).round(3).to_string())
    error = (joined["budget_move"] - joined["budget_move_true"]).dropna()
    print(f"budget response: the common move (recomputed) less the truth's own move (against "
          f"the whole run's mean): sd {error.std():.3f}, median |error| "
          f"{error.abs().median():.3f} in logs over {len(error):,} paid rows")  # fmt: skip
    temporal = records["quality_temporal_consistency"]
    print(f"\n== temporal consistency: {float((temporal >= 1.0).mean()):.1%} of "
          f"{len(records):,} records score 1.0 (mean {temporal.mean():.3f})")  # fmt: skip
    for kind in ("budget_response", "macro_shock"):
        retro = analysis_time(joined).loc[kind]
        figure(f"confounder detection recall at analysis time (causal's check over the "
               f"window), {kind}",
               float(retro["analysis time: recall"]), "share of rows",
               target="≥ 0.95 recall and ≥ 0.90 precision (the promise)",
               met=bool(retro["analysis time: meets 95/90"]),
               note=f"precision {float(retro['analysis time: precision']):.1%}")  # fmt: skip
    for row in rows:
        figure(f"confounder detection recall at ingest (each record's tag), {row['kind']}",
               row["recall"], "share of rows",
               target="≥ 0.95 recall and ≥ 0.90 precision (the promise)",
               met=row["recall"] >= 0.95 and row["precision"] >= 0.90,
               note=f"precision {row['precision']:.1%}")  # fmt: skip
    figure("temporal consistency", float((temporal >= 1.0).mean()), "share of records",
           target="1.0 (the promise)", met=bool((temporal >= 1.0).all()))  # fmt: skip
    print("\n== causal quality score by source")
    q = records.groupby("data_source")["data_quality_score"]
    print(q.describe(percentiles=[0.1, 0.5, 0.9])[["count", "mean", "min", "10%", "50%", "90%", "max"]]
          .round(3).to_string())  # fmt: skip


if __name__ == "__main__":
    main()
