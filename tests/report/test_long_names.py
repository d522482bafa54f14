"""One long channel name does not push the charts' labels off their figures (R22-F5): a chart
shows it cut in the middle, the table the whole name."""

from __future__ import annotations

from html import unescape
from pathlib import Path

from mesh.report import render_report
from mesh.report._svg import LABEL_CHARS, short_label
from tests.report import companions
from tests.report.channels import channel_analysis
from tests.report.conftest import open_report
from tests.report.test_chart_text import svg_texts

LONG = (
    "Out-of-home digital screens across every metro area in the continental United States "
    "plus Alaska and Hawaii, quarterly flight"
)
NAMES = ["meta_prospecting", LONG, "google_search", "meta_retargeting", "Radio 101.125 FM"]


def test_a_long_name_is_cut_in_the_charts_and_whole_in_the_table(browser, tmp_path: Path) -> None:
    analysis = channel_analysis(NAMES)
    for name in NAMES:
        analysis.attribution.response_models.add(channel=name, carryover=[0.5, 0.3, 0.2])
    html = render_report(analysis, budget=companions.budget(analysis))
    opened = open_report(browser, html, tmp_path / "long.html", screenshot=False)
    kinds = {f["kind"] for f in opened.figures}
    assert {"contributions", "roas", "adstock", "budget-shift"} <= kinds
    # Before: "meta_prospecting", "google_search", … ran past the left edge of all four charts.
    assert not opened.overlaps, opened.overlaps
    texts = svg_texts(html)
    cut = short_label(LONG)
    assert len(cut) <= LABEL_CHARS and cut.startswith("Out-of-home") and cut.endswith("flight")
    assert texts.count(cut) == 4
    assert LONG not in texts
    assert f'id="channel-{LONG}"' in unescape(html)


def test_short_label_keeps_the_ends_that_tell_names_apart() -> None:
    a, b = (f"US | Prospecting | A very long campaign name that goes on {n}" for n in "12")
    assert short_label(a) != short_label(b)
    assert short_label("tiktok") == "tiktok"
    assert short_label("two\nlines") == "two lines"
