"""`liftos report` pages at full size (issue 18: a year × 30 campaigns opens in Chromium in
under 2 s and the file is under 5 MB): HTML size, render time, and open time in headless
Chromium (Debian's package, driven by Playwright as in the tests).

Reports:
- synthetic control on a daily year of 30 campaigns (1 treated, 29 donors: 29 placebo gaps of
  365 points) — the real estimator and checks;
- BSTS on a daily year (observed, one-step predictions, counterfactual, pointwise, cumulative);
- attribution of 30 channels with its plan: the model fit over the year with the holdout
  shaded, contributions, ROAS, baseline vs media over the year, 30 response curves, adstock, a
  30-row budget shift, a 365-day forecast fan (50/80/95%), the power curve, recommendations.

Open time is navigation start → load event plus two animation frames (the page painted), the
median of --runs fresh pages; the reference measured in the same run is a minimal page opened
the same way, so the ratio is what the report's size and figures add.

Run: PYTHONPATH=.:gen python bench/report_open.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench._figures import figure  # noqa: E402

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from liftos.v1 import causal_pb2 as causal_pb  # noqa: E402

from causal_svc import convert  # noqa: E402
from causal_svc.estimators.result import EffectSpec, Method  # noqa: E402
from causal_svc.methods import EstimationOptions  # noqa: E402
from causal_svc.pipeline import estimate_effect  # noqa: E402
from mesh.report import render_report  # noqa: E402
from tests.report import companions  # noqa: E402

DAYS, CAMPAIGNS = 365, 30
TARGET_OPEN_S, TARGET_BYTES = 2.0, 5_000_000


def daily_campaigns(seed: int = 0) -> pd.DataFrame:
    """Daily revenue of 30 campaigns over a year; campaign 00 gets a lift from day 300."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2025-07-01", periods=DAYS, freq="D")
    common = np.cumsum(rng.normal(0, 5, DAYS)) + 60 * np.sin(np.arange(DAYS) * 2 * np.pi / 7)
    rows = []
    for c in range(CAMPAIGNS):
        level, load = rng.lognormal(7, 0.3), rng.uniform(0.5, 1.5)
        y = level + load * common + rng.normal(0, 20, DAYS)
        treated = (c == 0) & (np.arange(DAYS) >= 300)
        y = y + 150 * treated
        rows.append(pd.DataFrame({"campaign": f"campaign-{c:02d}", "date": days, "revenue": y,
                                  "treated_post": treated.astype(int)}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def _analysis(
    frame: pd.DataFrame, spec: EffectSpec, method: Method, name: str
) -> causal_pb.Analysis:
    result = estimate_effect(
        frame, spec, method, options=EstimationOptions(seed=1), refutation_simulations=5
    )
    estimate = convert.estimate_to_proto(
        result.estimate, outcome=spec.outcome, treatment=spec.treatment, summary=result.summary,
        naive=result.naive,
    )  # fmt: skip
    estimate.strategy.CopyFrom(convert.strategy_to_proto(result.strategy))
    analysis = causal_pb.Analysis(analysis_id=f"an-bench-{name}", org_id="bench", estimate=estimate)
    analysis.create_time.FromDatetime(companions.CREATED)
    return analysis


def reports() -> dict[str, str]:
    frame = daily_campaigns()
    out: dict[str, str] = {}
    t = time.perf_counter()
    sc = _analysis(frame, EffectSpec("revenue", "treated_post", unit="campaign", time="date"),
                   Method.SYNTHETIC_CONTROL, "sc")  # fmt: skip
    estimate_s = time.perf_counter() - t
    one = frame[frame.campaign == "campaign-00"].drop(columns="campaign")
    controls = frame[frame.campaign != "campaign-00"].pivot(
        index="date", columns="campaign", values="revenue"
    )
    one = one.merge(controls.iloc[:, :3].add_prefix("ctl_"), left_on="date", right_index=True)
    bsts = _analysis(one, EffectSpec("revenue", "treated_post", time="date",
                                     covariates=tuple(c for c in one.columns if c.startswith("ctl_"))),
                     Method.BSTS, "bsts")  # fmt: skip
    big = companions.big_attribution(CAMPAIGNS)
    timings: dict[str, float] = {}
    for name, make in (
        ("synthetic control, 365 days × 30 campaigns", lambda: render_report(sc)),
        ("BSTS, 365 days", lambda: render_report(bsts)),
        ("attribution, 30 channels + plan, 365-day fan", lambda: render_report(
            big, budget=companions.budget(big),
            forecast=companions.forecast(DAYS, fan=(0.5, 0.8, 0.95)),
            design=companions.design(), recommendations=companions.recommendations(big),
        )),
    ):  # fmt: skip
        t = time.perf_counter()
        out[name] = make()
        timings[name] = time.perf_counter() - t
    print(f"synthetic-control estimate with checks: {estimate_s:.1f} s (not part of the report)")
    reports.timings = timings  # type: ignore[attr-defined]
    return out


_PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def open_seconds(browser: object, path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1000, "height": 1400})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
        t = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        page.evaluate(_PAINTED)
        times.append(time.perf_counter() - t)
        assert not errors, errors
        page.close()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("LIFTOS_CHROMIUM") or shutil.which("chromium")
    if exe is None:
        print("chromium not found: run scripts/install-chromium.sh", file=sys.stderr)
        return 1
    pages = reports()
    ok = True
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe)
        reference = Path(tmp) / "reference.html"
        reference.write_text("<!DOCTYPE html><html><body><p>reference</p></body></html>")
        open_seconds(browser, reference, 2)  # warm the browser
        ref_s = open_seconds(browser, reference, args.runs)
        print(
            f"chromium {browser.version}; reference page opens in {ref_s * 1000:.0f} ms (median of {args.runs})"
        )
        print(f"{'report':<52} {'size':>8} {'render':>8} {'open':>8} {'× ref':>7}  targets")
        for i, (name, html) in enumerate(pages.items()):
            path = Path(tmp) / f"report-{i}.html"
            path.write_text(html, encoding="utf-8")
            size = path.stat().st_size
            open_s = open_seconds(browser, path, args.runs)
            met = open_s < TARGET_OPEN_S and size < TARGET_BYTES
            ok &= met
            render_s = reports.timings[name]  # type: ignore[attr-defined]
            figure(f"report opens in Chromium: {name}", open_s * 1000, "ms",
                   reference="a minimal reference page", reference_value=ref_s * 1000,
                   target="< 2 s and < 5 MB", met=met, note=f"{size / 1e6:.2f} MB")  # fmt: skip
            print(
                f"{name:<52} {size / 1e6:6.2f}MB {render_s:7.2f}s {open_s * 1000:6.0f}ms "
                f"{open_s / ref_s:6.1f}×  {'met' if met else 'MISSED'} (< {TARGET_OPEN_S:g} s, < {TARGET_BYTES / 1e6:g} MB)"
            )
        browser.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
