"""The page on paper (R22-F4): every table fits an A4 page's width, so no column is lost, and
the recommendations' prose does not make each row a page of its own."""

from __future__ import annotations

from pathlib import Path

from mesh.report import render_report
from tests.report import companions
from tests.report.channels import channel_analysis

# A4 less the page's 12 mm side margins, in CSS px (96 per inch).
A4_CONTENT_PX = round((210 - 2 * 12) / 25.4 * 96)
A4_HEIGHT_PX = round(297 / 25.4 * 96)

NAMES = ["meta_prospecting", "google_search", "meta_retargeting", "google_pmax", "tiktok",
         "klaviyo_email", "klaviyo_sms"]  # fmt: skip
WHY = (
    "the planning curve mean mROAS 1.42 (90% CI 0.61 to 2.25) exceeds break-even at the spend as "
    "run, and the point fit's mROAS 1.31 agrees; moving 25% more spend into it gains in 87% of "
    "the model's draws, with the channel's bound at 1.5x its current spend not binding"
)

_TABLES = """() => [...document.querySelectorAll('table')].map(t => {
  const page = document.body.getBoundingClientRect();
  return {section: t.closest('section').id, right: t.getBoundingClientRect().right,
          page: page.right,
          cut: [...t.querySelectorAll('th')].filter(h => h.getBoundingClientRect().right > page.right + 1)
                 .map(h => h.textContent),
          rows: [...t.querySelectorAll('tbody tr')].map(r => r.getBoundingClientRect().height)};
})"""


def test_printed_tables_keep_every_column(browser, tmp_path: Path) -> None:
    analysis = channel_analysis(NAMES)
    for c in analysis.attribution.channels:
        c.platform_reported_outcome = 3 * c.incremental_outcome.estimate
        c.platform_reported_roas, c.naive_regression_roas = 7.5, 3.3
    recommendations = companions.recommendations(analysis)
    for r in recommendations.recommendations:
        r.rationale = WHY
    path = tmp_path / "print.html"
    path.write_text(render_report(analysis, recommendations=recommendations), encoding="utf-8")
    page = browser.new_page(viewport={"width": A4_CONTENT_PX, "height": A4_HEIGHT_PX})  # type: ignore[attr-defined]
    try:
        page.emulate_media(media="print")
        page.goto(path.as_uri(), wait_until="load")
        tables = {t["section"]: t for t in page.evaluate(_TABLES)}
    finally:
        page.close()
    # Before: the channel table ran to 1,059 px of a 703 px page (Platform ROAS, mROAS and Share
    # cut off), the recommendations to 1,025 px (Confidence cut off), each row 670 px tall.
    for section in ("channels", "recommendations"):
        t = tables[section]
        assert t["right"] <= t["page"] + 1, t
        assert not t["cut"], t
    assert max(tables["recommendations"]["rows"]) < A4_HEIGHT_PX / 4, tables["recommendations"]
