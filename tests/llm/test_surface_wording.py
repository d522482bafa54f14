"""R10-F14: the grounded explanation states money in the analysis's currency (the report, the
analyze table and the products CLI do), an effect estimate's estimand in the words of the
other surfaces, and a decrease with its interval in one sign convention; CheckClaims accepts
every sentence it writes so."""

from __future__ import annotations

import dataclasses
import re

from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Audience
from llm_svc.guardrail import Guardrail
from llm_svc.writer import write
from tests.llm.support import audit_attribution, effect_analysis
from tests.llm.test_products import assert_grounded, cannibal

# "cut … by 4,200 (90% CI -4,800 …": a positive amount beside a negative interval
_MIXED_SIGNS = re.compile(r"(?:cut|reduced) [^.]*? by [\d,.]+(?: [A-Z]{3})? \(\d+% CI -")


def test_the_explanation_names_the_currency_of_its_amounts() -> None:
    proto = audit_attribution()
    a = analysis_from_proto(proto)
    assert a.currency == "USD"  # the channels' spend's currency
    guard = Guardrail([a])
    for audience in Audience:
        sentences = write([a], audience)
        texts = [s.text for s in sentences]
        assert (
            "Klaviyo email increased revenue by 29,597,531 USD (90% CI 15,836,244 to "
            "43,358,818 USD)." in texts
        )
        # a return per unit of spend is a ratio, not an amount: no currency on it
        assert all("USD" not in t for t in texts if "incremental ROAS is" in t)
        for s in sentences:
            assert not guard.check(s.text, s.cites).flagged, s.text


def test_a_product_explanation_names_the_currency_and_a_cut_in_one_sign() -> None:
    proto = cannibal()
    assert analysis_from_proto(proto).currency == proto.products.currency_code == "USD"
    for audience in (Audience.ANALYST, Audience.DATA_SCIENTIST):
        text = assert_grounded(proto, audience).text  # the guardrail accepts every sentence
        assert (
            "Promoting Trail Boot 2 cut Trail Boot 1's revenue: -4,200 USD (90% CI -4,800 to "
            "-3,600 USD)." in text
        )
        assert "of its own gain of 10,000 USD." in text
        assert not _MIXED_SIGNS.search(text), _MIXED_SIGNS.search(text)


def test_an_effect_estimate_says_its_estimand_per_observation_and_a_decrease_in_one_sign() -> None:
    a = dataclasses.replace(
        effect_analysis("an-cut", "google_search", point=-6.0, lower=-9.0, upper=-3.0),
        observation="geo-day",
    )
    guard = Guardrail([a])
    sentences = write([a], Audience.DATA_SCIENTIST)
    texts = [s.text for s in sentences]
    assert (
        "Google search reduced revenue: -6.00, the average treatment effect (ATE) per geo-day "
        "(95% CI -9.00 to -3.00)." in texts
    )
    assert any(t.startswith("The estimand is the average treatment effect (ATE) per geo-day")
               for t in texts)  # fmt: skip
    assert not any("across all units" in t or _MIXED_SIGNS.search(t) for t in texts)
    for s in sentences:
        assert not guard.check(s.text, s.cites).flagged, s.text
    # an effect estimate names no currency (EffectEstimate carries none): no unit is invented
    assert not any("USD" in t for t in texts)


def test_build_context_names_the_estimand_in_the_same_words() -> None:
    # The LLM writer's evidence said "ATE, on average across all units" beside an explanation,
    # report and CLI saying "the average treatment effect (ATE) per geo-day" (R10-F14).
    from llm_svc.context import build_context

    a = dataclasses.replace(
        effect_analysis("an-cut", "google_search", point=-6.0, lower=-9.0, upper=-3.0),
        observation="geo-day",
    )
    context = build_context([a], [])
    line = next(x for x in context.splitlines() if x.startswith("- estimand: "))
    assert line.startswith("- estimand: average treatment effect (ATE) per geo-day "), line
    assert "across all units" not in context
