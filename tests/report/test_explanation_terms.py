"""R6-F15/F19 on the page: the attribution page's jargon (iROAS, mROAS, Share, holdout, R²,
MAPE, NRMSE, calibration MAPE) is defined in one line under the explanation, and the
explanation's identification sentence (the analysis's own strategy) links to the
Identification section."""

from __future__ import annotations

import re
from pathlib import Path

from liftos.v1 import llm_pb2 as llm_pb

from mesh.report import render_report
from tests.llm.support import audit_demo
from tests.report.companions import explanation
from tests.report.conftest import open_report


def test_the_attribution_page_defines_its_terms_and_links_its_strategy(
    browser: object, tmp_path: Path
) -> None:
    analysis = audit_demo(calibrated=True)
    done = explanation(analysis)
    html = render_report(analysis, explanation=done)
    opened = open_report(browser, html, tmp_path / "terms.html")
    assert not opened.errors, opened.errors
    text = re.sub(r"\s+", " ", opened.text)
    for term in ("iROAS = incremental revenue per unit of spend", "Share = a channel's part",
                 "MAPE (mean absolute percentage error)", "NRMSE (root-mean-square error",
                 "calibration MAPE = "):  # fmt: skip
        assert term in text, term
    (reason,) = [c for c in done.citations if c.fact == "strategy.reason"]
    assert done.text[reason.start : reason.end].startswith("national spend movements")
    assert 'href="#identification" title="strategy.reason"' in html
    assert 'id="identification"' in html


def test_the_page_names_each_claim_the_guardrail_removed_or_rewrote() -> None:
    # R10-F9: the page said only "1 claim(s) ... were removed or rewritten"; the reader could
    # not tell which figure was withdrawn (the CLI names them)
    analysis = audit_demo(calibrated=True)
    done = explanation(analysis)
    done.unsupported_claims.add(
        claim="TikTok doubled revenue.", verdict=llm_pb.CLAIM_VERDICT_CONTRADICTED,
        reason="the analysis puts it at 0.49 <b>", resolution=llm_pb.CLAIM_RESOLUTION_REMOVED,
    )  # fmt: skip
    done.unsupported_claims.add(
        claim="Email caused 12M.", verdict=llm_pb.CLAIM_VERDICT_UNSUPPORTED,
        reason="not established", resolution=llm_pb.CLAIM_RESOLUTION_REWRITTEN,
    )  # fmt: skip
    html = render_report(analysis, explanation=done)
    assert "2 claim(s) the evidence did not support were removed or rewritten:" in html
    assert "removed: “TikTok doubled revenue.” (the analysis puts it at 0.49 &lt;b&gt;)" in html
    assert "rewritten: “Email caused 12M.” (not established)" in html
