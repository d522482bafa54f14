"""Effect-estimate reports of every method, rendered from real estimator outputs and opened in
headless Chromium: every figure has a size, no console error, no label overlaps another."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from liftos.v1 import causal_pb2 as causal_pb

from mesh.report import UnsupportedAnalysis, render_report
from mesh.report.effect import verdict
from tests.report.analyses import CASES
from tests.report.conftest import open_report

# The method-specific figures each report must show.
EXPECTED = {
    "difference_in_means": {"estimate", "love-plot"},
    "did": {"estimate", "group-trends"},
    "event_study": {"estimate", "event-study"},
    "staggered_did": {"estimate", "event-study"},
    "synthetic_control": {"estimate", "synthetic-control", "weights"},
    "sdid": {"estimate", "sdid-trajectories", "weights"},
    "bsts": {"estimate", "bsts-impact"},
    "rdd": {"estimate", "rdd"},
    "matching": {"estimate", "overlap", "love-plot"},
    "ipw": {"estimate", "overlap", "love-plot"},
    "aipw": {"estimate", "overlap", "love-plot"},
    "iv": {"estimate", "coefficients"},
    "dml": {"estimate"},
    "naive_regression": {"estimate", "coefficients"},
}


def test_every_method_has_a_case() -> None:
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_report_renders_in_chromium(name: str, analyses, browser, tmp_path: Path) -> None:
    analysis = analyses[name]
    opened = open_report(browser, render_report(analysis), tmp_path / f"{name}.html")
    assert not opened.errors, opened.errors
    kinds = {f["kind"] for f in opened.figures}
    assert EXPECTED[name] <= kinds, f"missing figures: {EXPECTED[name] - kinds}"
    for f in opened.figures:
        assert f["width"] > 100 and f["height"] > 50, f
        assert f["marks"] > 10, f  # drawn, not an empty frame
    assert not opened.overlaps, opened.overlaps
    assert opened.screenshot is not None and opened.screenshot.stat().st_size > 10_000
    # Every check is a row with its verdict and its sentence.
    for check in analysis.estimate.checks:
        assert check.interpretation[:60] in " ".join(opened.text.split())
    assert opened.text.count("passed") + opened.text.count("failed") + opened.text.count(
        "warning"
    ) + opened.text.count("skipped") >= len(analysis.estimate.checks)


def test_estimate_is_shown_beside_the_naive_comparison(analyses) -> None:
    e = analyses["matching"].estimate
    assert e.HasField("naive_estimate")
    html = render_report(analyses["matching"])
    assert "Naive comparison" in html and "purchases on exposed alone" in html


def test_the_page_is_self_contained_and_ids_are_unique(analyses) -> None:
    html = render_report(analyses["synthetic_control"])
    assert "<script" not in html and "<link" not in html and "@import" not in html
    urls = set(re.findall(r'(?:src|href)="(?!#)([^"]+)"', html))
    assert not urls, urls
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids across inline SVGs"
    refs = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', html))
    assert refs <= set(ids), refs - set(ids)


def test_names_are_escaped() -> None:
    analysis = causal_pb.Analysis(analysis_id="an-x", org_id="acme")
    e = analysis.estimate
    e.outcome, e.treatment, e.summary = "<b>rev</b>", "t&t", "<script>alert(1)</script>"
    e.point_estimate, e.ci_lower, e.ci_upper, e.alpha, e.supported = 1.0, 0.5, 1.5, 0.05, True
    html = render_report(analysis)
    assert "<script>" not in html and "&lt;b&gt;rev&lt;/b&gt;" in html


def test_an_analysis_without_a_result_is_refused() -> None:
    with pytest.raises(UnsupportedAnalysis):
        render_report(causal_pb.Analysis(analysis_id="an-empty", org_id="acme"))


@pytest.mark.parametrize(("paper", "width_mm"), [("A4", 210), ("Letter", 216)])
def test_the_page_prints_within_the_paper(
    paper: str, width_mm: int, analyses, browser, tmp_path: Path
) -> None:
    """Print media at the paper's width: every figure fits inside the margins, labels stay
    apart, and Chromium's print-to-PDF produces the pages."""
    path = tmp_path / "print.html"
    path.write_text(render_report(analyses["bsts"]), encoding="utf-8")
    width_px = round(width_mm / 25.4 * 96)
    page = browser.new_page(viewport={"width": width_px, "height": 1100})
    page.emulate_media(media="print")
    page.goto(path.as_uri(), wait_until="load")
    widths = page.evaluate(
        "() => [...document.querySelectorAll('figure.fig svg')].map(s => s.getBoundingClientRect().right)"
    )
    assert widths and max(widths) <= width_px
    pdf = page.pdf(format=paper, print_background=True)
    page.close()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pdf.startswith(b"%PDF") and pages >= 2, pages


def test_verdict_names_an_unbounded_interval(analyses) -> None:
    """'supported' is False for [-inf, inf] with no failed check (79a6100); the headline said
    'Not supported: failed ' with nothing after it."""
    analysis = causal_pb.Analysis()
    analysis.CopyFrom(analyses["synthetic_control"])
    e = analysis.estimate
    del e.checks[:]
    e.ci_lower, e.ci_upper, e.supported = -math.inf, math.inf, False
    assert verdict(e) == ("unsupported", "Not supported: the interval is unbounded")
    html = render_report(analysis)
    assert "Not supported: the interval is unbounded" in html and "failed </strong>" not in html
    assert "−∞ to ∞" in html  # the interval cell shows the bounds, not 0 to 0
    e.checks.add(name="pre_period_fit", outcome=causal_pb.CHECK_OUTCOME_FAILED)
    assert verdict(e)[1] == "Not supported: failed pre_period_fit; the interval is unbounded"
