"""s18 V2-F1: a figure with a '.' before three digits reads as English prose writes it ("an
iROAS of 2.085", "a 12.125% lift") unless the text shows German or French writing, and a
percentage, multiple or return on spend under 10 is never a thousands group. Since 97b39db such
claims were UNSUPPORTED ("reads two ways, 2.08 or 2,085") and the Explain guardrail rewrote the
model's own sentence. CheckClaims and Explain over real causal and LLM servers; the LLM behind
Explain is a local OpenAI-compatible endpoint (the one thing outside the mesh)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from llm_svc.numbers import QuantityKind, quantities
from mesh.runtime.inprocess import running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import (
    ChannelRows,
    attribution_of,
    claim_verdicts,
    store_analyses,
    stored_lift,
)

V = pb.ClaimVerdict


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("Google PMax's iROAS was 2.085.", 2.085, QuantityKind.ABSOLUTE),
        ("Google PMax returned 2.125x its spend.", 2.125, QuantityKind.MULTIPLE),
        ("a 2.085 iROAS", 2.085, QuantityKind.ABSOLUTE),
        ("Meta retargeting drove a 12.125% lift in revenue.", 0.12125, QuantityKind.PERCENT),
        ("revenue fell by -1.234%", -0.01234, QuantityKind.PERCENT),
        ("an iROAS of 12.345", 12.345, QuantityKind.ABSOLUTE),
        ("tv drove 1.234 of the orders", 1.234, QuantityKind.ABSOLUTE),
        # English words that German or French also spell ("die", "hat") or acronyms are English
        ("Meta's iROAS was 12.125 at MIT, as Des Moines saw (et al.)", 12.125,
         QuantityKind.ABSOLUTE),
        # a ratio under 10 is a decimal even beside German figures and words
        ("iROAS von 2.085 bei 25.000.000 €", 2.085, QuantityKind.ABSOLUTE),
        ("ein Anstieg von 1.234 % bei tv", 0.01234, QuantityKind.PERCENT),
    ],
)  # fmt: skip
def test_a_three_decimal_figure_in_english_reads_one_way(
    text: str, value: float, kind: QuantityKind
) -> None:
    q = quantities(text)[0]
    assert (q.value, q.kind, q.ambiguous) == (pytest.approx(value), kind, None)


def test_an_english_range_of_three_decimal_figures_reads_one_way() -> None:
    (q,) = quantities("an iROAS between 1.234 and 2.345")
    assert (q.value, q.upper, q.ambiguous) == (1.234, 2.345, None)


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("Der Umsatz von tv stieg um 1.234", 1234.0),  # German words
        ("tv drove 1.234 orders, and 9,50 per order, of 1,234,567", 1234.0),  # both ways
        ("tv: a 12.125% lift, avec une marge", 121.25),  # French words; a percent over 10
    ],
)
def test_the_same_figure_with_german_or_french_in_the_text_reads_two_ways(
    text: str, other: float
) -> None:
    q = next(q for q in quantities(text) if q.ambiguous is not None)
    assert q.ambiguous == pytest.approx(other)


ORG, ANALYSIS = "org_en", "an-en"
LIFT: list[str] = []  # a randomised lift test: revenue 100 + 12 per treated observation
CHANNELS: ChannelRows = {
    "google_pmax": (2_060_574.0, (5_151_435, 3_709_033, 6_593_837), (2.50, 1.80, 3.20)),
}


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("claims-en")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, attribution_of(ANALYSIS, ORG, CHANNELS))
        LIFT.append(stored_lift(services["causal"].address, ORG, None))
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Google PMax's iROAS was 2.085.", V.CLAIM_VERDICT_SUPPORTED),
        ("Google PMax returned 2.125x its spend.", V.CLAIM_VERDICT_SUPPORTED),
        ("Google PMax's iROAS was 3.125.", V.CLAIM_VERDICT_SUPPORTED),
        # judged on its size, not called unsupported: 5.125 is past 3.20
        ("Google PMax's iROAS was 5.125.", V.CLAIM_VERDICT_CONTRADICTED),
    ],
)
def test_check_claims_judges_an_english_three_decimal_ratio(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int
) -> None:
    ((_, verdict, reason),) = claim_verdicts(llm, ORG, ANALYSIS, text)
    assert verdict == expected, reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Meta retargeting drove a 12.125% lift in revenue.", V.CLAIM_VERDICT_SUPPORTED),
        ("Meta retargeting drove a 30.125% lift in revenue.", V.CLAIM_VERDICT_CONTRADICTED),
    ],
)
def test_check_claims_judges_an_english_three_decimal_percent(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int
) -> None:
    ((_, verdict, reason),) = claim_verdicts(llm, ORG, LIFT[0], text)
    assert verdict == expected, reason


def test_explain_sends_the_models_three_decimal_iroas_as_written(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    """Before: the guardrail replaced it with the headline and flagged it UNSUPPORTED."""
    answer = "Google PMax's iROAS was 2.085."
    with fake_openai(Script(pieces=words(answer))) as fake:
        request = pb.ExplainRequest(
            org_id=ORG, analysis_id=ANALYSIS, llm=pb.LlmEndpoint(url=fake.url, model="tiny")
        )
        done = list(llm.Explain(request, timeout=60))[-1].done
    assert answer in done.text, done.text
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]


def test_money_written_to_three_places_still_reads_two_ways() -> None:
    """Review V4 F1: after e165d92 "$2.500" and "2.500 in incremental revenue" read as 2.50 and
    a true 2,500 claim was CONTRADICTED; English money has two decimals, so such a figure
    keeps both readings (the judge then names them) unless the text settles it."""
    for text in ("Meta drove $2.500 in incremental revenue.", "Meta returned $2.500.",
                 "Meta drove 2.500 in incremental revenue.", "Meta added €2.500."):  # fmt: skip
        (q,) = quantities(text)
        assert (q.value, q.ambiguous) == (2.5, 2500.0), text
    (q,) = quantities("Meta drove $2,500 in incremental revenue.")
    assert (q.value, q.ambiguous) == (2500.0, None)
