"""Regenerate docs/report/: one report per analysis kind as HTML and as a Chromium screenshot.

    PYTHONPATH=.:gen .venv/bin/python scripts/report_screenshots.py

The analyses are the report tests' own (tests/report/analyses.py: real estimator outputs on
simulated marketing data with known effects; tests/report/companions.py: the attribution
domain on a simulated world with its plan), each with the LLM service's grounded explanation
at the top as `liftos report` writes it; the screenshots are what the tests open.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mesh.report import render_report  # noqa: E402
from tests.report import companions  # noqa: E402
from tests.report.analyses import effect_analysis  # noqa: E402

KINDS = ("event_study", "synthetic_control", "bsts", "rdd", "matching")
OUT = ROOT / "docs" / "report"


def main() -> int:
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("LIFTOS_CHROMIUM") or shutil.which("chromium")
    if exe is None:
        print("chromium not found: run scripts/install-chromium.sh", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe)
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        pages = {}
        for name in KINDS:
            analysis = effect_analysis(name, analysis_id=f"an-example-{name}", simulations=50)
            pages[name] = render_report(analysis, explanation=companions.explanation(analysis))
        attribution = companions.attribution_analysis(analysis_id="an-example-attribution")
        pages["attribution"] = render_report(
            attribution, explanation=companions.explanation(attribution),
            budget=companions.budget(attribution), forecast=companions.forecast(fan=(0.5, 0.8, 0.95)),
            design=companions.design(), recommendations=companions.recommendations(attribution),
        )  # fmt: skip
        for name, html in pages.items():
            path = OUT / f"{name}.html"
            path.write_text(html, encoding="utf-8")
            page.goto(path.as_uri(), wait_until="load")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print(f"{path.relative_to(ROOT)} ({len(html) / 1e3:.0f} kB) and its screenshot")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
