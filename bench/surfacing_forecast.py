"""PredictPerformance backtested on simulator worlds (issue 17): do its 90% intervals cover the
realised outcome 88–95% of days over horizons of 7, 28 and 56 days?

Per seed, a world of ``H + 56`` days starting in a different month (so the forecast windows
fall in every season). The attribution model is fitted on the first ``H`` days, exactly as the
service would have it when asked; ``predict_performance`` then forecasts the next 56 days of
first-party revenue under the spend the world actually ran (the plan), and each day's realised
revenue is checked against its interval. Coverage is the share of days covered within the
first 7, 28 and 56 days, pooled over seeds; the total over 56 days is checked too.

The forecast reads the world's promotion calendar over the history (``promotion``: what the org
registers as an external factor of type PROMOTION), so a history ending inside a sale does not
carry the sale forward as the level; the same forecast without the calendar is scored beside it
("no calendar", the method before).

Reference measured in the same run: the textbook interval — the same log-linear baseline by
OLS with independent Gaussian errors (prediction variance of the regression) — on the same
days; it shows what ignoring the persistence of demand does to coverage.

Run: PYTHONPATH=.:gen python bench/surfacing_forecast.py [--seeds 24] [--history 365]
[--first-seed 0] [--workers 2] [--cache DIR]
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
from surfacing_svc.curves import HillCurve
from surfacing_svc.forecast import Forecast, _design, _holidays, predict_performance
from tests.causal.attribution.world import World, world

HORIZON = 56
LEVEL = 0.9
CHECKS = (7, 28, 56)
FAN = (0.5, 0.8, 0.95)


@dataclass(frozen=True)
class Run:
    inside: np.ndarray  # (56,) bool
    # The same forecast without the promotion calendar (the reference the calendar is
    # measured against), and whether the history ends inside a promotion.
    inside_no_calendar: np.ndarray
    total_inside_no_calendar: bool
    ends_in_promotion: bool
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
    panel = _world(seed, history).panel
    past = _cut(panel, history)
    t0 = time.perf_counter()
    rep = analyze(past, ModelSpec())
    curves: tuple[HillCurve, ...] = ()
    baseline = None
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


def _world(seed: int, history: int) -> World:
    start = dt.date(2022, 1, 1) + dt.timedelta(days=41 * seed)
    return world("confounded", seed, days=history + HORIZON, n_geos=30, n_campaigns=14,
                 start=start)  # fmt: skip


def _promotions(seed: int, history: int, cache: str) -> np.ndarray:
    """The world's own promotion calendar (1 on the days its sale runs: what the org registers
    as an external factor of type PROMOTION), over history and horizon; cached beside the fit
    (older caches lack it, so it has its own file)."""
    path = os.path.join(cache, f"{seed}-{history}-promo.pkl") if cache else ""
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    promo = np.asarray(_world(seed, history).panel.national["promo"], dtype=np.float64)
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(promo, f)
    return promo


def one(args: tuple[int, int, bool, str]) -> Run:
    seed, history, media, cache = args
    dates, y, spend, curves, baseline, verdict, fit_s = _fit(seed, history, media, cache)
    promo = _promotions(seed, history, cache)
    t0 = time.perf_counter()

    def forecast(calendar: np.ndarray | None) -> Forecast:
        return predict_performance(
            dates[:history], y[:history], {c: s[:history] for c, s in spend.items()}, curves,
            {c: s[history:] for c, s in spend.items()}, horizon=HORIZON,
            baseline_total=baseline, level=LEVEL, fan_levels=FAN, seed=seed,
            promotion=calendar,
        )  # fmt: skip

    # The service reads the history's promotion calendar (the past only: the paths bring
    # promotions ahead as often as the history had them).
    f = forecast(promo[:history])
    seconds = fit_s + time.perf_counter() - t0
    g = forecast(None)
    real = y[history:]
    g_lo = np.array([d.lower for d in g.daily])
    g_hi = np.array([d.upper for d in g.daily])
    lo = np.array([d.lower for d in f.daily])
    hi = np.array([d.upper for d in f.daily])
    est = np.array([d.estimate for d in f.daily])
    nlo, nhi = _naive(dates[:history], y[:history], dates[history:])
    return Run(
        inside=(real >= lo) & (real <= hi),
        inside_no_calendar=(real >= g_lo) & (real <= g_hi),
        total_inside_no_calendar=bool(g.total.lower <= real.sum() <= g.total.upper),
        ends_in_promotion=bool(promo[history - 1] > 0),
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
    plain = np.array([r.inside_no_calendar for r in runs])
    ends = np.array([r.ends_in_promotion for r in runs])
    print(f"{len(runs)} worlds (30 states, {args.history}-day history, forecasts starting in "
          f"every season), {LEVEL:.0%} intervals, plan = the spend the world ran")  # fmt: skip
    print("coverage: with the history's promotion calendar (the service's, when the org "
          "registers one); no calendar: the same forecast without it")  # fmt: skip
    print(f"{'horizon':>8}{'coverage':>10}{'no calendar':>13}{'textbook OLS':>14}"
          f"{'rel. width at day h':>21}")  # fmt: skip
    for k, h in enumerate(CHECKS):
        width = np.mean([r.width[k] for r in runs])
        print(f"{h:>8}{inside[:, :h].mean():>10.3f}{plain[:, :h].mean():>13.3f}"
              f"{naive[:, :h].mean():>14.3f}{width:>21.3f}")  # fmt: skip
    if ends.any():
        print(f"histories ending inside a promotion: {int(ends.sum())} of {ends.size}; their "
              f"7-day coverage {inside[ends, :7].mean():.3f} (no calendar "
              f"{plain[ends, :7].mean():.3f}); the others {inside[~ends, :7].mean():.3f} "
              f"({plain[~ends, :7].mean():.3f})")  # fmt: skip
    print(f"56-day total without the calendar covered in "
          f"{np.mean([r.total_inside_no_calendar for r in runs]):.0%} of worlds")  # fmt: skip
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
