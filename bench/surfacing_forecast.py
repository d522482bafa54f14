"""PredictPerformance backtested on simulator worlds (issue 17): do its 90% intervals cover the
realised outcome 88–95% of days over horizons of 7, 28 and 56 days?

Per seed, a world of ``H + 56`` days starting in a different month (so the forecast windows
fall in every season). The attribution model is fitted on the first ``H`` days, exactly as the
service would have it when asked; ``predict_performance`` then forecasts the next 56 days of
first-party revenue under the spend the world actually ran (the plan), and each day's realised
revenue is checked against its interval. Coverage is the share of days covered within the
first 7, 28 and 56 days, pooled over seeds; the total over 56 days is checked too.

Reference measured in the same run: the textbook interval — the same log-linear baseline by
OLS with independent Gaussian errors (prediction variance of the regression) — on the same
days; it shows what ignoring the persistence of demand does to coverage.

Run: PYTHONPATH=.:gen python bench/surfacing_forecast.py [--seeds 24] [--history 365]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from scipy.stats import t as student_t

from bench._figures import figure
from bench.surfacing_worlds import planning_model
from causal_svc.attribution import ModelSpec, analyze
from causal_svc.attribution.panel import MediaPanel
from surfacing_svc.forecast import _design, _holidays, predict_performance
from tests.causal.attribution.world import world

HORIZON = 56
LEVEL = 0.9
CHECKS = (7, 28, 56)
FAN = (0.5, 0.8, 0.95)


@dataclass(frozen=True)
class Run:
    inside: np.ndarray  # (56,) bool
    naive_inside: np.ndarray
    total_inside: bool
    total_fan_inside: tuple[bool, ...]  # at FAN
    width: np.ndarray  # relative width at days 7, 28, 56
    seconds: float
    verdict: str


def _cut(panel: MediaPanel, stop: int) -> MediaPanel:
    return panel.subset_days(stop)


def _naive(dates: np.ndarray, y: np.ndarray, future: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS on log y with iid Gaussian prediction intervals (the textbook reference)."""
    days = [d.item() for d in np.concatenate([dates, future])]
    table = _holidays("US", tuple(sorted({d.year for d in days})))
    seen = sorted({table[d] for d in days[: dates.size] if d in table})
    yearly = dates.size >= 364
    x, xf = (_design(d, seen, "US", yearly) for d in (dates, future))
    keep = x.std(axis=0) > 0
    keep[0] = True
    x, xf = x[:, keep], xf[:, keep]
    coef, *_ = np.linalg.lstsq(x, np.log(y), rcond=None)
    resid = np.log(y) - x @ coef
    dof = x.shape[0] - x.shape[1]
    s2 = float(resid @ resid) / dof
    inv = np.linalg.pinv(x.T @ x)
    se = np.sqrt(s2 * (1.0 + np.einsum("ij,jk,ik->i", xf, inv, xf)))
    z = float(student_t.ppf(0.5 + LEVEL / 2, dof))
    mean = xf @ coef
    return np.exp(mean - z * se), np.exp(mean + z * se)


def _fit(seed: int, history: int, media: bool, cache: str) -> tuple:
    """The world's national series and the attribution fitted on its first ``history`` days
    (curves, baseline, verdict, seconds); kept in ``cache`` (a folder) when given, so forecast
    variants can be rescored without refitting."""
    path = os.path.join(cache, f"{seed}-{history}-{int(media)}.pkl") if cache else ""
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    start = dt.date(2022, 1, 1) + dt.timedelta(days=41 * seed)
    w = world("confounded", seed, days=history + HORIZON, n_geos=30, n_campaigns=14, start=start)
    panel = w.panel
    past = _cut(panel, history)
    t0 = time.perf_counter()
    rep = analyze(past, ModelSpec())
    curves, baseline = (), None
    if media and rep.verdict.value != "fail":
        model = planning_model(rep)
        curves, baseline = model.curves, model.baseline_total
    y = panel.outcome.sum(axis=0)
    spend = {c: panel.spend[i].sum(axis=0) for i, c in enumerate(panel.channels)}
    out = (panel.dates, y, spend, curves, baseline, rep.verdict.value,
           time.perf_counter() - t0)  # fmt: skip
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(out, f)
    return out


def one(args: tuple[int, int, bool, str]) -> Run:
    seed, history, media, cache = args
    dates, y, spend, curves, baseline, verdict, fit_s = _fit(seed, history, media, cache)
    t0 = time.perf_counter()
    f = predict_performance(
        dates[:history], y[:history], {c: s[:history] for c, s in spend.items()}, curves,
        {c: s[history:] for c, s in spend.items()}, horizon=HORIZON, baseline_total=baseline,
        level=LEVEL, fan_levels=FAN, seed=seed,
    )  # fmt: skip
    seconds = fit_s + time.perf_counter() - t0
    real = y[history:]
    lo = np.array([d.lower for d in f.daily])
    hi = np.array([d.upper for d in f.daily])
    est = np.array([d.estimate for d in f.daily])
    nlo, nhi = _naive(dates[:history], y[:history], dates[history:])
    return Run(
        inside=(real >= lo) & (real <= hi),
        naive_inside=(real >= nlo) & (real <= nhi),
        total_inside=bool(f.total.lower <= real.sum() <= f.total.upper),
        total_fan_inside=tuple(bool(b.lower <= real.sum() <= b.upper) for b in f.total_fan),
        width=((hi - lo) / est)[[c - 1 for c in CHECKS]],
        seconds=seconds,
        verdict=verdict,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=24)
    parser.add_argument("--history", type=int, default=365)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-media", action="store_true", help="forecast without the curves")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first..first+seeds-1 (develop on one range, report another)",
    )
    parser.add_argument("--cache", default="", help="folder keeping each world's fit")
    args = parser.parse_args()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(
            pool.map(
                one,
                [
                    (s, args.history, not args.no_media, args.cache)
                    for s in range(args.first_seed, args.first_seed + args.seeds)
                ],
            )
        )
    inside = np.array([r.inside for r in runs])
    naive = np.array([r.naive_inside for r in runs])
    print(f"{len(runs)} worlds (30 states, {args.history}-day history, forecasts starting in "
          f"every season), {LEVEL:.0%} intervals, plan = the spend the world ran")  # fmt: skip
    print(f"{'horizon':>8}{'coverage':>10}{'textbook OLS':>14}{'rel. width at day h':>21}")
    for k, h in enumerate(CHECKS):
        width = np.mean([r.width[k] for r in runs])
        print(f"{h:>8}{inside[:, :h].mean():>10.3f}{naive[:, :h].mean():>14.3f}{width:>21.3f}")
    print(f"56-day total covered in {np.mean([r.total_inside for r in runs]):.0%} of worlds "
          f"by its {LEVEL:.0%} interval; fan: "
          + ", ".join(f"{q:.0%} interval {np.mean([r.total_fan_inside[k] for r in runs]):.0%}"
                      for k, q in enumerate(FAN)))  # fmt: skip
    verdicts = {v: sum(r.verdict == v for r in runs) for v in ("pass", "review", "fail")}
    print(
        f"attribution verdicts: {verdicts}; seconds per world (fit + forecast): "
        f"{np.mean([r.seconds for r in runs]):.1f}; total {time.perf_counter() - t0:.0f} s"
    )
    cover = inside.mean()
    figure(f"PredictPerformance 90% interval coverage over 56 days, {len(runs)} worlds",
           100 * cover, "%", reference="textbook OLS interval",
           reference_value=100 * naive.mean(), target="88–95%", met=0.88 <= cover <= 0.95,
           note=f"{args.history}-day history")  # fmt: skip


if __name__ == "__main__":
    main()
