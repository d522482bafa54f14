"""`liftos analyze`'s table for a conversions analysis: the per-spend ratios are conversions
per unit of spend (0.00496), which two decimals printed as 0.00 for every channel (R2-F12); a
revenue analysis keeps its iROAS / mROAS to two decimals."""

from __future__ import annotations

import liftos_dc.liftos.v1 as dc
import pytest
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.attribution import print_result
from tests.llm.support import audit_demo


def _result(conversions: bool) -> dc.AttributionResult:
    r = audit_demo(calibrated=True).attribution
    if conversions:
        r.outcome = common_pb.OUTCOME_METRIC_CONVERSIONS
        for c in r.channels:
            if c.HasField("uncalibrated_roas"):
                c.uncalibrated_roas /= 300.0
            for i in (c.incremental_roas, c.marginal_roas):
                i.estimate, i.lower, i.upper = (x / 300.0 for x in (i.estimate, i.lower, i.upper))
    return dc.AttributionResult.parse(r.SerializeToString())


def test_a_conversions_table_shows_its_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    print_result(_result(conversions=True))
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("channel "))
    assert "conv/spend" in header and "iROAS" not in header
    meta = next(line for line in out.splitlines() if line.startswith("meta_prospecting "))
    assert "0.00497 [0.00261, 0.00732]" in meta and "0.00 [" not in meta, meta
    calibrated = next(line for line in out.splitlines() if line.startswith("calibrated by"))
    assert "conv/spend 0.00323 → 0.00497" in calibrated, calibrated


def test_a_revenue_table_keeps_iroas(capsys: pytest.CaptureFixture[str]) -> None:
    print_result(_result(conversions=False))
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("channel "))
    assert "iROAS" in header and "mROAS" in header


def test_a_channel_without_spend_has_no_platform_roas(capsys: pytest.CaptureFixture[str]) -> None:
    # klaviyo_email has sends, no spend: its platform ROAS is undefined, and "0.00" read as
    # "the platform claimed nothing" where it claimed millions (R10-F14)
    result = _result(conversions=False)
    print_result(result)
    out = capsys.readouterr().out
    email = next(c for c in result.channels if c.channel == "klaviyo_email")
    assert email.platform_reported_outcome > 0 and not (email.spend and email.spend.amount)
    row = next(line for line in out.splitlines() if line.startswith("klaviyo_email "))
    assert "(no spend)" in row and " — " in row and "0.00" not in row, row
