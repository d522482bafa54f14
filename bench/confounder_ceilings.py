"""What any confounder detector could reach on the simulator's truth, and the ingest-time
macro rules side by side (issue 19): the studies behind ``bench/confounder_detection.py
--macro-rules``, ``--macro-ceiling`` and ``--budget-ceiling``, and the recall / precision score
every table there uses. No figure of its own (docs/performance.md, "Our data promises,
measured")."""

from __future__ import annotations

import numpy as np
import pandas as pd

import sim
from ingestion_svc.confounder_macro import MACRO_STEPS, step_ratios
from ingestion_svc.confounders import FACTOR_Z
from sim.confounders import BUDGET_LOG_MOVE, MACRO_LOG_MOVE, _demand_chase

__all__ = ["budget_ceiling", "macro_ceiling", "macro_rules", "recall_precision"]


def recall_precision(truth: np.ndarray, found: np.ndarray) -> dict[str, object]:
    """Recall and precision of ``found`` against ``truth`` (rows where truth is NaN left out)."""
    truth = np.asarray(truth, dtype=float)
    keep = ~np.isnan(truth)
    t, f = truth[keep] > 0, np.asarray(found, dtype=bool)[keep]
    tp = int((t & f).sum())
    recall, precision = tp / max(int(t.sum()), 1), tp / max(int(f.sum()), 1)
    return {"active rows": int(t.sum()), "detected rows": int(f.sum()), "recall": recall,
            "precision": precision, "meets 95/90": recall >= 0.95 and precision >= 0.9}  # fmt: skip


def macro_rules(scenario: str, seeds: list[int]) -> None:
    """Per day, without a mesh: the z-score rule and the shipped step rule against the macro
    truth (the step size from the whole registered series, as a 120-day ingest loads it)."""
    truth_all, z_all, step_all = [], [], []
    for seed in seeds:
        result = sim.simulate(scenario, seed=seed)
        for org in result.truth["orgs"].values():
            params = org["demand"]["params"]
            x = np.asarray(params["series"]["macro_index"], dtype=float)
            truth_all.append(params["macro_coef"] * np.abs(x - x.mean()) >= MACRO_LOG_MOVE)
            z = (x - x.mean()) / x.std(ddof=1)
            frame = pd.DataFrame({"name": "m", "geo": "", "day": np.arange(x.size), "value": x,
                                  "type": "macro", "std": x.std(ddof=1)})  # fmt: skip
            z_all.append(np.abs(z) >= FACTOR_Z)
            step_all.append(np.abs(z) * step_ratios(frame)["m"] >= MACRO_STEPS)
    truth = np.concatenate(truth_all)
    print(f"== macro shock per day, {scenario} worlds {seeds[0]}..{seeds[-1]} ({len(seeds)})")
    for rule, found in (
        ("|z| >= 0.5 (before)", z_all),
        (f">= {MACRO_STEPS} daily steps", step_all),
    ):
        score = recall_precision(truth, np.concatenate(found))
        print(f"  {rule:<22} recall {score['recall']:.1%}  precision {score['precision']:.1%}")


def _macro_ceiling(scenario: str, seed: int) -> dict[str, object]:
    """The hindsight regression of :func:`macro_ceiling` for one world."""
    result = sim.simulate(scenario, seed=seed)
    demand = next(iter(result.truth["orgs"].values()))["demand"]
    series = demand["params"]["series"]
    macro, competitor, promo = (
        np.asarray(series[k], dtype=float) for k in ("macro_index", "competitor_intensity", "promo")
    )
    dates = pd.to_datetime(pd.Series(result.truth["dates"]))
    index = {d: i for i, d in enumerate(dates)}
    geo_day = result.panel.groupby(["region", "date"], as_index=False)["fp_orders"].first()
    t = pd.to_datetime(geo_day["date"]).map(index).to_numpy(np.int64)
    y = np.log(geo_day["fp_orders"].clip(lower=0.5).to_numpy(float))
    holiday_days = [(d.month, d.day) >= (11, 20) or (d.month, d.day) <= (1, 2) for d in dates]
    day_dummy = np.where(np.asarray(holiday_days)[t], t, -1)
    x = np.column_stack(
        [
            macro[t],
            competitor[t],
            promo[t],
            t / 365.0,
            pd.get_dummies(day_dummy).to_numpy(float),
            pd.get_dummies(dates.dt.day_of_week.to_numpy()[t]).to_numpy(float)[:, 1:],
            pd.get_dummies(geo_day["region"].to_numpy()).to_numpy(float)[:, 1:],
        ]
    )
    beta = float(np.linalg.lstsq(x, y, rcond=None)[0][0])
    move = np.abs(macro - macro.mean())
    truth = demand["params"]["macro_coef"] * move >= MACRO_LOG_MOVE
    return {
        "seed": seed,
        "macro_coef": float(demand["params"]["macro_coef"]),
        "estimate": beta,
        "truth": truth,
        "estimated_rule": abs(beta) * move >= MACRO_LOG_MOVE,
        "z_rule": move / macro.std(ddof=1) >= FACTOR_Z,
    }


def macro_ceiling(scenario: str, seeds: list[int]) -> None:
    """Recall and precision per day of the hindsight effect-weighted macro rule (see the
    module docstring) against the z-score rule the detector ships."""
    worlds = [_macro_ceiling(scenario, s) for s in seeds]
    print(f"== macro index effect, estimated in hindsight ({scenario} worlds {seeds})")
    print(pd.DataFrame([{k: w[k] for k in ("seed", "macro_coef", "estimate")} for w in worlds])
          .set_index("seed").round(4).to_string())  # fmt: skip
    truth = np.concatenate([w["truth"] for w in worlds])
    for rule in ("estimated_rule", "z_rule"):
        found = np.concatenate([w[rule] for w in worlds])
        tp = int((truth & found).sum())
        print(f"{rule:<15} recall {tp / max(int(truth.sum()), 1):.1%}  "
              f"precision {tp / max(int(found.sum()), 1):.1%}  (days)")  # fmt: skip


def budget_ceiling(scenario: str, seeds: list[int], noise: tuple[float, ...]) -> None:
    """What an oracle reaches on the budget truth: it knows each geo-day's true demand-driven
    budget move against the whole run's mean (the truth's own quantity) up to a Gaussian
    error of sd ``noise`` (log points), and flags it at the truth's 0.25; rows weighted as
    the platforms report them. Also the share of active rows within 0.05 of the threshold."""
    rng = np.random.default_rng(0)
    moves, weights = [], []
    for seed in seeds:
        result = sim.simulate(scenario, seed=seed)
        confounding = float(result.truth["config"]["confounding"])
        regions = [g["code"] for g in result.truth["geos"]]
        dates = [pd.Timestamp(d) for d in result.truth["dates"]]
        paid = result.panel[result.panel["source"].astype(str) != "klaviyo"]
        for org_id, org in result.truth["orgs"].items():
            rows = paid[paid["org_id"].astype(str) == org_id]
            g = rows["region"].astype(str).map({r: i for i, r in enumerate(regions)})
            t = pd.to_datetime(rows["date"]).map({d: i for i, d in enumerate(dates)})
            count = np.zeros((len(regions), len(dates)))
            np.add.at(count, (g.to_numpy(np.int64), t.to_numpy(np.int64)), 1.0)
            moves.append(confounding * _demand_chase(org["demand"], len(dates)).ravel())
            weights.append(count.ravel())
    move, weight = np.abs(np.concatenate(moves)), np.concatenate(weights)
    active = move >= BUDGET_LOG_MOVE
    near = active & (move < BUDGET_LOG_MOVE + 0.05)
    print(f"== budget response ceiling, {scenario} worlds {seeds}: {weight[active].sum():,.0f} "
          f"active rows, {weight[near].sum() / weight[active].sum():.1%} of them within 0.05 "
          f"of the threshold")  # fmt: skip
    for sd in noise:
        seen = np.abs(np.concatenate(moves) + rng.normal(0.0, sd, move.size))
        line = f"  oracle ± {sd:.2f}:"
        # at the truth's own threshold, and at the one that falls least short of 95 / 90
        best: tuple[float, float, float, float] = (-1.0, 0.0, 0.0, 0.0)
        for flag in np.arange(BUDGET_LOG_MOVE, BUDGET_LOG_MOVE + 0.151, 0.01):
            found = seen >= flag
            tp = weight[active & found].sum()
            recall, precision = tp / weight[active].sum(), tp / max(weight[found].sum(), 1)
            if flag == BUDGET_LOG_MOVE:
                line += f" at 0.25 recall {recall:.1%} precision {precision:.1%};"
            shortfall = min(recall / 0.95, precision / 0.9)
            if shortfall > best[0]:
                best = (shortfall, float(flag), recall, precision)
        print(f"{line} best at {best[1]:.2f}: recall {best[2]:.1%} precision {best[3]:.1%}")
