"""A right-to-left name in running text is isolated, so the figure after it stays after it on
screen (R22-F10)."""

from __future__ import annotations

from pathlib import Path

from liftos.v1 import llm_pb2 as llm_pb

from mesh.report import render_report
from mesh.report._format import prose
from tests.report.channels import channel_analysis

RTL = "إذاعة الجمعة البيضاء רדיו"

# Where "95%" and the name are drawn in the strategy sentence.
_BOXES = """() => {
  const p = [...document.querySelectorAll('#identification p')].find(e => e.textContent.includes('95%'));
  const node = [...p.childNodes].find(n => n.nodeType === 3 && n.textContent.includes('95%'))
    || [...p.querySelectorAll('*')].flatMap(e => [...e.childNodes]).find(n => n.nodeType === 3 && n.textContent.includes('95%'));
  const range = document.createRange();
  const at = node.textContent.indexOf('95%');
  range.setStart(node, at); range.setEnd(node, at + 3);
  const name = document.createRange();
  const all = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
  let n; while ((n = all.nextNode())) if (n.textContent.includes('רדיו')) { name.selectNodeContents(n); break; }
  const a = range.getBoundingClientRect(), b = name.getBoundingClientRect();
  return {number: a.left, name: b.right, numberTop: a.top, nameTop: b.top};
}"""


def test_a_number_after_an_rtl_name_is_drawn_after_it(browser, tmp_path: Path) -> None:
    analysis = channel_analysis(["tiktok", RTL])
    analysis.attribution.identification.reason = f"Days with spend: tiktok 24%, {RTL} 95%"
    html = render_report(analysis)
    path = tmp_path / "rtl.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1000, "height": 1400})  # type: ignore[attr-defined]
    try:
        page.goto(path.as_uri(), wait_until="load")
        boxes = page.evaluate(_BOXES)
    finally:
        page.close()
    # Before: "… tiktok 24%, 95% רדיו إذاعة الجمعة البيضاء)": the number drawn left of the name.
    assert abs(boxes["numberTop"] - boxes["nameTop"]) < 2, boxes  # one line: compare x
    assert boxes["number"] >= boxes["name"] - 1, boxes
    assert f"<bdi>{RTL}</bdi> 95%" in html


def test_prose_escapes_and_isolates_only_rtl_runs() -> None:
    assert prose("<b> & tiktok") == "&lt;b&gt; &amp; tiktok"
    assert prose(f"a {RTL} 95%") == f"a <bdi>{RTL}</bdi> 95%"


def test_a_cited_rtl_name_in_the_explanation_is_isolated() -> None:
    text = f"{RTL} 95% of days had spend."
    done = llm_pb.ExplanationDone(text=text)
    done.citations.add(start=0, end=len(RTL), fact=f"channels[{RTL}].spend")
    html = render_report(channel_analysis(["tiktok", RTL]), explanation=done)
    assert f"<bdi>{RTL}</bdi></a> 95%" in html
