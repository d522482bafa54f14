"""R34-F6: figures written the German or French way are read as written ("25.000.000 €" is 25
million euros, "9,50" is nine and a half, "25 Mio. €" 25 million), one whose single separator
reads two ways and nothing in the text settles ("1.234" in a text with German or French in
it) is marked ambiguous, and English figures read as before. CheckClaims over real causal and
LLM servers judges the sizes so read."""

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
from tests.llm.support import attribution_of, claim_verdicts, store_analyses


@pytest.mark.parametrize(
    ("text", "value", "kind", "currency"),
    [
        ("tv drove 25.000.000 EUR of incremental revenue", 25e6, QuantityKind.ABSOLUTE, "EUR"),
        ("tv drove 25.000.000 € of incremental revenue", 25e6, QuantityKind.ABSOLUTE, "EUR"),
        ("tv drove 20.500 EUR", 20_500.0, QuantityKind.ABSOLUTE, "EUR"),  # money: 2 decimals
        ("tv drove 1.234,56 EUR", 1234.56, QuantityKind.ABSOLUTE, "EUR"),
        ("an iROAS of 9,50", 9.5, QuantityKind.ABSOLUTE, ""),
        ("a lift of 12,5%", 0.125, QuantityKind.PERCENT, ""),
        ("a lift of 12,5\u202f%", 0.125, QuantityKind.PERCENT, ""),
        ("a 3,1x ROAS", 3.1, QuantityKind.MULTIPLE, ""),
        ("tv drove 25 Mio. EUR", 25e6, QuantityKind.ABSOLUTE, "EUR"),
        ("tv drove 6,5 Mio. €", 6.5e6, QuantityKind.ABSOLUTE, "EUR"),
        ("1,2 Mrd. €", 1.2e9, QuantityKind.ABSOLUTE, "EUR"),
        ("1.250 Mio. Euro", 1.25e9, QuantityKind.ABSOLUTE, "EUR"),  # German: 1,250 million
        ("50 Tsd. €", 5e4, QuantityKind.ABSOLUTE, "EUR"),
        ("25 M€", 25e6, QuantityKind.ABSOLUTE, "EUR"),
        ("1,2 Md€", 1.2e9, QuantityKind.ABSOLUTE, "EUR"),
        ("25 millions d'euros", 25e6, QuantityKind.ABSOLUTE, "EUR"),
        ("25\u202f000\u202f000 €", 25e6, QuantityKind.ABSOLUTE, "EUR"),
        ("25 000 000 €", 25e6, QuantityKind.ABSOLUTE, "EUR"),
        ("-1.234,5 €", -1234.5, QuantityKind.ABSOLUTE, "EUR"),
    ],
)
def test_european_figures_read_as_written(
    text: str, value: float, kind: QuantityKind, currency: str
) -> None:
    (q,) = quantities(text)
    assert (q.value, q.kind, q.currency, q.ambiguous) == (
        pytest.approx(value),
        kind,
        currency,
        None,
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$1,200", 1200.0),
        ("1,234,567.89 USD", 1_234_567.89),
        ("12,500 orders", 12_500.0),  # one comma group: English prose's count
        ("101.125 million USD", 101.125e6),  # an English scale: a decimal point
        ("1,250 million USD", 1.25e9),
        ("an iROAS of 3.78", 3.78),
        ("0.125", 0.125),
        ("1234.567", 1234.567),
    ],
)
def test_english_figures_read_as_before(text: str, value: float) -> None:
    (q,) = quantities(text)
    assert q.value == pytest.approx(value) and q.ambiguous is None


def test_a_separator_that_reads_two_ways_is_read_by_the_texts_other_figures() -> None:
    # alone in German words: 1.234 or 1,234 (alone in English: 1.234, test_numbers_english)
    alone = quantities("Der Umsatz von tv stieg um 1.234")
    assert [(q.value, q.ambiguous) for q in alone] == [(1.234, 1234.0)]
    assert quantities("sank um -12.345% bei tv")[0].ambiguous == pytest.approx(-123.45)
    german = quantities("an iROAS of 2,08 and 1.234 orders")
    assert [(q.value, q.ambiguous) for q in german] == [(2.08, None), (1234.0, None)]
    english = quantities("an iROAS of 2.08 and 1.234 orders")
    assert [(q.value, q.ambiguous) for q in english] == [(2.08, None), (1.234, None)]
    # German figures around "1,234": the comma is the decimal one
    assert [q.value for q in quantities("25.000.000 € und 1,234")] == [25e6, 1.234]
    mixed = quantities("1,234,567 and 9,50 and 1.234")  # the text writes both ways
    assert mixed[-1].ambiguous == 1234.0
    *_, between = quantities("9,50 and 1,234,567 and between 1.234 and 2.345")  # a range too
    assert (between.value, between.upper, between.ambiguous) == (1.234, 2.345, 1234.0)


def test_the_tolerance_is_half_the_last_digit_written() -> None:
    assert quantities("9,50 €")[0].tolerance == pytest.approx(0.005)
    assert quantities("25.000.000 €")[0].tolerance == pytest.approx(0.5)
    assert quantities("6,5 Mio. €")[0].tolerance == pytest.approx(50_000)


ORG, ANALYSIS = "org_de", "an-eur"
# meta: incremental revenue 6,632,778 (90%: 3,594,822 to 9,670,734), iROAS 2.08 (1.13 to 3.03)
CHANNELS = {
    "meta_prospecting": (3_188_836.0, (6_632_778, 3_594_822, 9_670_734), (2.08, 1.13, 3.03)),
}
V = pb.ClaimVerdict


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("claims-eur")
    analysis = attribution_of(ANALYSIS, ORG, CHANNELS)
    for ch in analysis.attribution.channels:
        ch.spend.currency_code = "EUR"
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, analysis)
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # before: 6.6 (and 25) EUR, contradicted / "consistent" with a size nobody wrote
        ("Meta prospecting drove 6.600.000 € of incremental revenue.", V.CLAIM_VERDICT_SUPPORTED),
        (
            "Meta prospecting drove 25.000.000 € of incremental revenue.",
            V.CLAIM_VERDICT_CONTRADICTED,
        ),
        ("Meta prospecting drove 6,6 Mio. € of incremental revenue.", V.CLAIM_VERDICT_SUPPORTED),
        ("Meta prospecting drove 1,2 Mrd. € of incremental revenue.", V.CLAIM_VERDICT_CONTRADICTED),
        ("Meta prospecting drove 6.632.778,00 EUR of revenue.", V.CLAIM_VERDICT_SUPPORTED),
        # before: "3,50" was 3 (inside 1.13 to 3.03) and 50
        ("Meta prospecting's iROAS was 3,50.", V.CLAIM_VERDICT_CONTRADICTED),
        ("Meta prospecting's iROAS was 2,50.", V.CLAIM_VERDICT_SUPPORTED),
        ("Meta prospecting drove 6,632,778 EUR of incremental revenue.", V.CLAIM_VERDICT_SUPPORTED),
    ],
)
def test_check_claims_judges_the_size_as_written(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int
) -> None:
    verdicts = claim_verdicts(llm, ORG, ANALYSIS, text)
    assert verdicts and verdicts[0][1] == expected, verdicts


@pytest.mark.parametrize(
    ("text", "expected", "said"),
    [
        # "12.080" beside German words is 12.08 or 12,080: neither is judged (an iROAS under
        # 10, "2.080", is a decimal whatever the language: test_numbers_english)
        (
            "Meta prospecting's iROAS was 12.080 bei Meta.",
            V.CLAIM_VERDICT_UNSUPPORTED,
            "12.080 reads two ways, 12.080 or 12,080",
        ),
        (
            "Meta prospecting drove a 12.345% lift in revenue für das Quartal.",
            V.CLAIM_VERDICT_UNSUPPORTED,
            "12.345% reads two ways, 12.345% or 12,345%",
        ),
        ("Meta prospecting's iROAS was 2.080 and its CPA 12.5.", V.CLAIM_VERDICT_SUPPORTED, ""),
        ("Meta prospecting's iROAS was 2,080 bei 25.000.000 €.", V.CLAIM_VERDICT_SUPPORTED, ""),
    ],
)
def test_a_size_that_reads_two_ways_is_not_judged_as_one(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int, said: str
) -> None:
    ((_, verdict, reason), *_) = claim_verdicts(llm, ORG, ANALYSIS, text)
    assert verdict == expected and said in reason, reason


def test_a_german_scale_abbreviation_does_not_end_the_sentence(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    text = "Meta prospecting drove 25 Mio. EUR of incremental revenue."
    ((claim, verdict, _),) = claim_verdicts(llm, ORG, ANALYSIS, text)
    assert claim == text and verdict == V.CLAIM_VERDICT_CONTRADICTED
