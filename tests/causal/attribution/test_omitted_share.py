"""The omitted_channels check says each left-out channel's spend, and the share of the window's
spend left out when the caller gives the modelled spend (audit R18 F16: `--channel search
--channel tv` left social, a quarter of the spend, out of the model)."""

from __future__ import annotations

from causal_svc.attribution.health import (
    HealthCheck,
    HealthReport,
    Verdict,
    with_omitted_channels,
)


def test_amounts_and_share() -> None:
    ok = HealthCheck("holdout", Verdict.PASS, 0.8, 0.3, "fine")
    report = HealthReport(Verdict.PASS, (ok,), None, 0.9, ())
    omitted = {"social": 5_562_696.0, "email": 0.0}
    check = with_omitted_channels(report, omitted, modelled=17_176_920.0).checks[-1]
    assert check.message.startswith(
        "channels with spend in the window were left out of the model, 24% of the window's "
        "spend: social (spend 5,562,696), email (sends or impressions, no spend); their effect"
    )
    bare = with_omitted_channels(report, omitted).checks[-1].message
    assert bare.startswith("channels with spend in the window were left out of the model: social")
