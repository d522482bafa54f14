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

``--season``: the org also registers the world's own gift season (the simulator's
``gift_season`` series, what the org registers as an external factor of type SEASON) over the
history and the horizon ("registered"), or only the season that reaches the horizon (all its
days) and the horizon's other days, as a merchant who registers only what is coming would
("ahead only": an earlier year's season is then unregistered); both beside the built-in
calendar ("fixed", 1–21 December), per horizon, over every seed and over ``--focus`` seeds
(default 3 12 21 30 39: 180-day histories ending before December that forecast into it).

Reference measured in the same run: the textbook interval — the same log-linear baseline by
OLS with independent Gaussian errors (prediction variance of the regression) — on the same
days; it shows what ignoring the persistence of demand does to coverage.

The totals over 7, 28 and 56 days are also scored from forecasts asked for that many days (a
planner's "next month"), so a method that changed with the horizon asked would show here.
``--history 120`` is the demo's length (and the report's 56-day horizon). ``--horizon D`` forecasts
and scores D days (worlds of history + D days, cached apart), the total over all D.

Run: PYTHONPATH=.:gen python bench/surfacing_forecast.py [--seeds 24] [--history 365]
[--first-seed 0] [--workers 2] [--cache DIR] [--season [--focus 3 12 21 30 39]]
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
    # Per CHECKS horizon h, a forecast asked for h days (not the 56-day one cut at h): whether
    # its total's interval covers the realised h-day total, and that interval's relative width.
    total_inside_at: tuple[bool, ...]
    total_width_at: tuple[float, ...]
    width: np.ndarray  # relative width at days 7, 28, 56
    seconds: float
    verdict: str
    # --season: the forecast with the world's gift season registered over history and horizon,
    # and over the horizon only (None without --season); whether the history holds none of it.
    inside_registered: np.ndarray | None = None
    inside_ahead_only: np.ndarray | None = None
    total_inside_registered: bool = False
    width_registered: np.ndarray | None = None
    season_ahead_unseen: bool = False
    # --season: per horizon day, whether it is inside the gift season, and the relative width
    # of each day's interval with the built-in calendar and with the season registered.
    season_days: np.ndarray | None = None
    day_width: np.ndarray | None = None
    day_width_registered: np.ndarray | None = None


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


def _fit(seed: int, history: int, media: bool, cache: str, horizon: int = HORIZON) -> tuple:
    """The world's national series and the attribution fitted on its first ``history`` days
    (curves, baseline, verdict, seconds); kept in ``cache`` (a folder) when given, so forecast
    variants can be rescored without refitting."""
    path = (
        os.path.join(cache, f"{seed}-{history}{_span(horizon)}-{int(media)}.pkl") if cache else ""
    )
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    panel = _world(seed, history, horizon).panel
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


def _span(horizon: int) -> str:
    """The cache names' mark of a world longer than the default horizon (none for 56)."""
    return "" if horizon == HORIZON else f"+{horizon}"


def _world(seed: int, history: int, horizon: int = HORIZON) -> World:
    start = dt.date(2022, 1, 1) + dt.timedelta(days=41 * seed)
    return world("confounded", seed, days=history + horizon, n_geos=30, n_campaigns=14,
                 start=start)  # fmt: skip


def _promotions(seed: int, history: int, cache: str, horizon: int = HORIZON) -> np.ndarray:
    """The world's own promotion calendar (1 on the days its sale runs: what the org registers
    as an external factor of type PROMOTION), over history and horizon; cached beside the fit
    (older caches lack it, so it has its own file)."""
    path = os.path.join(cache, f"{seed}-{history}{_span(horizon)}-promo.pkl") if cache else ""
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    promo = np.asarray(_world(seed, history, horizon).panel.national["promo"], dtype=np.float64)
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(promo, f)
    return promo


def _gift_season(seed: int, history: int, cache: str) -> np.ndarray:
    """The world's gift season as the simulator exports it (``params.series.gift_season``: 1
    on a day inside; what the org registers as an external factor of type SEASON), over
    history and horizon; cached beside the fit."""
    path = os.path.join(cache, f"{seed}-{history}-season.pkl") if cache else ""
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    truth = _world(seed, history).result.truth
    params = next(iter(truth["orgs"].values()))["demand"]["params"]
    season = np.asarray(params["series"]["gift_season"], dtype=np.float64)
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(season, f)
    return season


def one(args: tuple[int, int, bool, str, bool, int]) -> Run:
    seed, history, media, cache, with_season, span = args
    dates, y, spend, curves, baseline, verdict, fit_s = _fit(seed, history, media, cache, span)
    promo = _promotions(seed, history, cache, span)
    t0 = time.perf_counter()

    def forecast(
        calendar: np.ndarray | None,
        seasons: dict[str, dict[dt.date, float]] | None = None,
        horizon: int = span,
    ) -> Forecast:
        return predict_performance(
            dates[:history], y[:history], {c: s[:history] for c, s in spend.items()}, curves,
            {c: s[history : history + horizon] for c, s in spend.items()}, horizon=horizon,
            baseline_total=baseline, level=LEVEL, fan_levels=FAN, seed=seed,
            promotion=calendar, seasons=seasons,
        )  # fmt: skip

    # The service reads the history's promotion calendar (the past only: the paths bring
    # promotions ahead as often as the history had them).
    f = forecast(promo[:history])
    seconds = fit_s + time.perf_counter() - t0
    g = forecast(None)
    real = y[history:]
    # The total a planner asks for is of the horizon they ask: each CHECKS horizon on its own.
    at = [(h, forecast(promo[:history], horizon=h).total) for h in CHECKS]
    g_lo = np.array([d.lower for d in g.daily])
    g_hi = np.array([d.upper for d in g.daily])
    lo = np.array([d.lower for d in f.daily])
    hi = np.array([d.upper for d in f.daily])
    est = np.array([d.estimate for d in f.daily])
    nlo, nhi = _naive(dates[:history], y[:history], dates[history:])
    extra: dict = {}
    if with_season:
        gift = _gift_season(seed, history, cache)
        days = [d.item() for d in dates.astype("datetime64[D]")]
        every = {"gift_season": dict(zip(days, map(float, gift), strict=True))}
        # Ahead only: the season that reaches the horizon, all its days (those the history
        # already ran included), and the horizon's other days as outside; no earlier season.
        on = gift > 0
        first = int(np.flatnonzero(on[history:])[0]) + history if on[history:].any() else None
        keep = np.zeros(on.size, dtype=bool)
        keep[history:] = True
        if first is not None:
            k = first
            while k > 0 and on[k - 1]:
                k -= 1
            keep[k:history] = True
        ahead = {"gift_season": {d: float(g) for d, g, k in zip(days, gift, keep, strict=True)
                                 if k}}  # fmt: skip
        r, a = forecast(promo[:history], every), forecast(promo[:history], ahead)
        r_lo, r_hi, r_est = (np.array([getattr(d, k) for d in r.daily])
                             for k in ("lower", "upper", "estimate"))  # fmt: skip
        a_lo, a_hi = (np.array([getattr(d, k) for d in a.daily]) for k in ("lower", "upper"))
        extra = dict(
            inside_registered=(real >= r_lo) & (real <= r_hi),
            inside_ahead_only=(real >= a_lo) & (real <= a_hi),
            total_inside_registered=bool(r.total.lower <= real.sum() <= r.total.upper),
            width_registered=((r_hi - r_lo) / r_est)[[c - 1 for c in CHECKS]],
            season_ahead_unseen=bool(gift[history:].any() and not gift[:history].any()),
            season_days=on[history:],
            day_width=(hi - lo) / est,
            day_width_registered=(r_hi - r_lo) / r_est,
        )
    return Run(
        inside=(real >= lo) & (real <= hi),
        inside_no_calendar=(real >= g_lo) & (real <= g_hi),
        total_inside_no_calendar=bool(g.total.lower <= real.sum() <= g.total.upper),
        ends_in_promotion=bool(promo[history - 1] > 0),
        naive_inside=(real >= nlo) & (real <= nhi),
        total_inside=bool(f.total.lower <= real.sum() <= f.total.upper),
        total_fan_inside=tuple(bool(b.lower <= real.sum() <= b.upper) for b in f.total_fan),
        total_inside_at=tuple(bool(t.lower <= real[:h].sum() <= t.upper) for h, t in at),
        total_width_at=tuple((t.upper - t.lower) / t.estimate for _, t in at),
        width=((hi - lo) / est)[[c - 1 for c in CHECKS]],
        seconds=seconds,
        verdict=verdict,
        **extra,
    )


def _print_seasons(runs: list[Run], seeds: list[int], focus: list[int]) -> None:
    """Coverage with the built-in calendar beside the world's gift season registered."""
    groups = [("every seed", [True] * len(runs))]
    picked = [s in focus for s in seeds]
    if any(picked):
        groups.append((f"seeds {' '.join(str(s) for s in seeds if s in focus)}", picked))
    for label, keep in groups:
        sel = [r for r, k in zip(runs, keep, strict=True) if k]
        fixed = np.array([r.inside for r in sel])
        reg = np.array([r.inside_registered for r in sel])
        ahead = np.array([r.inside_ahead_only for r in sel])
        unseen = sum(r.season_ahead_unseen for r in sel)
        print(f"the gift season registered as the org's season, {label} ({len(sel)} worlds; "
              f"{unseen} forecast into the season with none of it in the history)")  # fmt: skip
        print(f"{'horizon':>8}{'fixed':>9}{'registered':>12}{'ahead only':>12}"
              f"{'width fixed':>13}{'width reg.':>12}")  # fmt: skip
        for k, h in enumerate(CHECKS):
            wf = np.mean([r.width[k] for r in sel])
            wr = np.mean([r.width_registered[k] for r in sel])  # type: ignore[index]
            print(f"{h:>8}{fixed[:, :h].mean():>9.3f}{reg[:, :h].mean():>12.3f}"
                  f"{ahead[:, :h].mean():>12.3f}{wf:>13.3f}{wr:>12.3f}")  # fmt: skip
        print(f"  56-day total covered: fixed {np.mean([r.total_inside for r in sel]):.0%}, "
              f"registered {np.mean([r.total_inside_registered for r in sel]):.0%}")  # fmt: skip
        days = np.array([r.season_days for r in sel])
        if days.any():
            wf = np.array([r.day_width for r in sel])[days].mean()
            wr = np.array([r.day_width_registered for r in sel])[days].mean()
            print(f"  the {int(days.sum())} horizon days inside the gift season: covered fixed "
                  f"{fixed[days].mean():.3f}, registered {reg[days].mean():.3f}, ahead only "
                  f"{ahead[days].mean():.3f}; mean relative width fixed {wf:.3f}, registered "
                  f"{wr:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=24)
    parser.add_argument("--history", type=int, default=365)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-media", action="store_true", help="forecast without the curves")
    parser.add_argument("--horizon", type=int, default=HORIZON,
                        help="days forecast and scored (>= 56; the total is over all of them)")  # fmt: skip
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first..first+seeds-1 (develop on one range, report another)",
    )
    parser.add_argument("--cache", default="", help="folder keeping each world's fit")
    parser.add_argument("--season", action="store_true",
                        help="also forecast with the world's gift season registered")  # fmt: skip
    parser.add_argument("--focus", type=int, nargs="*", default=[3, 12, 21, 30, 39],
                        help="--season: seeds also shown on their own")  # fmt: skip
    args = parser.parse_args()
    if args.horizon < HORIZON or (args.season and args.horizon != HORIZON):
        parser.error(f"--horizon must be at least {HORIZON} (and {HORIZON} with --season)")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(
            pool.map(
                one,
                [
                    (s, args.history, not args.no_media, args.cache, args.season, args.horizon)
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
    print(f"{args.horizon}-day total without the calendar covered in "
          f"{np.mean([r.total_inside_no_calendar for r in runs]):.0%} of worlds")  # fmt: skip
    print(f"{args.horizon}-day total covered in {np.mean([r.total_inside for r in runs]):.0%} of worlds "
          f"by its {LEVEL:.0%} interval; fan: "
          + ", ".join(f"{q:.0%} interval {np.mean([r.total_fan_inside[k] for r in runs]):.0%}"
                      for k, q in enumerate(FAN)))  # fmt: skip
    print("each horizon asked on its own, its total's 90% interval: "
          + ", ".join(f"{h} days covers {np.mean([r.total_inside_at[k] for r in runs]):.0%} "
                      f"(rel. width {np.mean([r.total_width_at[k] for r in runs]):.3f})"
                      for k, h in enumerate(CHECKS)))  # fmt: skip
    if args.season:
        _print_seasons(runs, list(range(args.first_seed, args.first_seed + args.seeds)),
                       args.focus)  # fmt: skip
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
