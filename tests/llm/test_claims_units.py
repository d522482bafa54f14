"""CheckClaims and the LLM guardrail read a claim's figure as what it says it is (audits R20,
R22), over real causal and LLM servers on localhost with a stored attribution shaped like the
audits' (org_001, 2024-09-15..2025-01-12: 120 days, USD, 90% intervals).

- R22-F0: a channel whose name holds a number ("offline_18", "Radio 101.125 FM") no longer
  blanks those digits out of every claim's size.
- R20-F2: a rate ("per day", "every week", "daily") is judged against the window's total put
  per that period; a period past the window, or on an estimate that is no total over one, is
  unsupported, never supported.
- R20-F6: a money figure in another currency than the analysis's is unsupported, the reason
  naming both; no exchange rate is made up.
- R20-F8: a ROAS written as a percentage ("a 500% iROAS") is read as the return itself (5.00).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from mesh.runtime.inprocess import running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.support import (
    ChannelRows,
    attribution_of,
    claim_verdicts,
    store_analyses,
    stored_lift,
)

ORG = "org_001"
ANALYSIS = "an-units"
LIFT: list[str] = []  # a randomised lift test the causal service estimated (per observation)
V = pb.ClaimVerdict

CHANNELS: ChannelRows = {
    "meta_prospecting": (3_188_836.0, (6_632_778, 3_594_822, 9_670_734), (2.08, 1.13, 3.03)),
    "google_pmax": (2_060_574.0, (8_288_695, 2_126_188, 14_451_202), (4.02, 1.03, 7.01)),
    "klaviyo_email": (0.0, (18_157_199, 9_590_492, 26_723_906), None),
    "offline_18": (500_000.0, (900_000, 300_000, 1_500_000), (1.80, 0.60, 3.00)),
    "Radio 101.125 FM": (400_000.0, (600_000, 100_000, 1_100_000), (1.50, 0.25, 2.75)),
}


def attribution() -> causal_pb.Analysis:
    return attribution_of(ANALYSIS, ORG, CHANNELS)


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("claim-units")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, attribution())
        LIFT.append(stored_lift(services["causal"].address, ORG, None))
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


def verdicts(
    llm: llm_grpc.LlmServiceStub, text: str, analysis: str = ANALYSIS
) -> list[tuple[str, int, str]]:
    return claim_verdicts(llm, ORG, analysis, text)


def verdict(llm: llm_grpc.LlmServiceStub, text: str) -> tuple[int, str]:
    ((_, v, reason),) = verdicts(llm, text)
    return v, reason


# -- R22-F0: a number inside a channel's name is the name's, never a claim's size -------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "18" and "101"/"125" are tokens of channel names: the sizes below hold them
        ("Klaviyo email increased revenue by 18,157,199 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("Klaviyo email increased revenue by 19,000,000 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("Klaviyo email increased revenue by 101.125 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
        ("Klaviyo email increased revenue by 125 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
        # the named channels themselves, their digits masked as their names
        ("Offline 18 increased revenue by 900,000 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("offline_18 increased revenue by 18 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
        ("Radio 101.125 FM increased revenue by 600,000 USD.", V.CLAIM_VERDICT_SUPPORTED),
        ("Radio 101.125 FM increased revenue by 101 million USD.", V.CLAIM_VERDICT_CONTRADICTED),
    ],
)
def test_a_number_in_a_channels_name_is_not_read_out_of_a_claims_size(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int
) -> None:
    v, reason = verdict(llm, text)
    assert v == expected, reason


def test_the_grounded_explanation_keeps_an_established_effect_beside_numbered_names(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    """R22-F0: the report's "In plain words" struck the writer's own "Klaviyo email increased
    revenue by 18,157,199 USD (90% CI 9,590,492 to 26,723,906 USD)" as contradicted."""
    events = list(llm.Explain(pb.ExplainRequest(org_id=ORG, analysis_id=ANALYSIS), timeout=60))
    done = events[-1].done
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]
    assert "Klaviyo email increased revenue by 18,157,199" in done.text


def explain_with(llm: llm_grpc.LlmServiceStub, answer: str) -> pb.ExplanationDone:
    """Explain with an LLM (a local OpenAI-compatible endpoint, the one thing outside the mesh)
    whose answer is ``answer``: what went out after the guardrail."""
    with fake_openai(Script(pieces=words(answer))) as fake:
        request = pb.ExplainRequest(
            org_id=ORG, analysis_id=ANALYSIS, llm=pb.LlmEndpoint(url=fake.url, model="tiny")
        )
        events = list(llm.Explain(request, timeout=60))
    return events[-1].done


# -- R20-F2: a rate is judged per its period ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "said"),
    [
        # meta_prospecting: 6,632,778 [3,594,822, 9,670,734] over 120 days = 55,273 per day
        ("Meta prospecting increased revenue by 5 million USD per day.",
         V.CLAIM_VERDICT_CONTRADICTED, "29,957 to 80,589 per day"),
        ("Meta prospecting increased revenue by 55,273 USD per day.",
         V.CLAIM_VERDICT_SUPPORTED, "120-day window, 3,594,822 to 9,670,734, put per day"),
        ("Meta prospecting increased daily revenue by 55,273 USD.",
         V.CLAIM_VERDICT_SUPPORTED, "29,957 to 80,589 per day"),
        ("Meta prospecting added 6,632,778 USD of revenue a day.",
         V.CLAIM_VERDICT_CONTRADICTED, "per day"),
        # google_pmax: [2,126,188, 14,451,202] over 120 days = 124,028 to 842,987 a week
        ("Google pmax added 8 million USD of revenue every week.",
         V.CLAIM_VERDICT_CONTRADICTED, "124,028 to 842,987 per week"),
        ("Google pmax added 400,000 USD of revenue weekly.",
         V.CLAIM_VERDICT_SUPPORTED, "124,028 to 842,987 per week"),
        # a year is past the 120-day window: an extrapolation either way
        ("Meta prospecting increased revenue by 6.6 million USD per year.",
         V.CLAIM_VERDICT_UNSUPPORTED, "extrapolates the analysis's 120-day window"),
        ("Meta prospecting increased revenue by 20 million USD annually.",
         V.CLAIM_VERDICT_UNSUPPORTED, "extrapolates the analysis's 120-day window"),
        ("Meta prospecting added 55k/day in revenue.",
         V.CLAIM_VERDICT_SUPPORTED, "29,957 to 80,589 per day"),
        # the period is the figure's it follows, not every figure's in the clause
        ("Meta prospecting drove 6.6M over the window, about 55k a day.",
         V.CLAIM_VERDICT_SUPPORTED, "inside the 90% interval 3,594,822 to 9,670,734"),
        # the window's total, no period: as before
        ("Meta prospecting increased revenue by 6,632,778 USD.",
         V.CLAIM_VERDICT_SUPPORTED, "inside the 90% interval 3,594,822 to 9,670,734"),
    ],
)  # fmt: skip
def test_a_rate_is_judged_against_the_window_put_per_its_period(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int, said: str
) -> None:
    v, reason = verdict(llm, text)
    assert v == expected and said in reason, reason


def test_a_rate_on_an_estimate_per_observation_is_unsupported(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    """An effect estimate (12 per observation here) is no total over a window: a claim per day
    cannot be put on it, even one that repeats its figure."""
    ((_, v, reason),) = verdicts(llm, "Meta retargeting increased revenue by 12 per day.", LIFT[0])
    assert v == V.CLAIM_VERDICT_UNSUPPORTED and "per observation" in reason, reason
    ((_, v, _),) = verdicts(llm, "Meta retargeting increased revenue by 12.", LIFT[0])
    assert v == V.CLAIM_VERDICT_SUPPORTED


def test_the_guardrail_stops_an_overstated_rate_and_keeps_a_right_one(
    llm: llm_grpc.LlmServiceStub,
) -> None:
    """R20-F2 through Explain: the 120x overstatement went out unflagged and the right
    run-rate was called contradicted and replaced."""
    wrong = "Meta prospecting increased revenue by 6,632,778 USD per day."
    right = "Google pmax added 55,000 USD of revenue per day."
    done = explain_with(llm, f"{wrong} {right}")
    assert wrong not in done.text and right in done.text, done.text
    (flag,) = done.unsupported_claims
    assert flag.claim == wrong and flag.verdict == V.CLAIM_VERDICT_CONTRADICTED, flag.reason


# -- R20-F6: a figure in another currency is not compared with a USD analysis ------------------


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Meta prospecting increased revenue by ¥6,632,778.", "yen or yuan"),
        ("Meta prospecting increased revenue by 6,632,778 JPY.", "JPY"),
        ("Meta prospecting increased revenue by £9.5M.", "GBP"),
        ("Meta prospecting increased revenue by €6.6M.", "EUR"),
        ("Meta prospecting increased revenue by 6.6 million euros.", "EUR"),
        ("Meta prospecting increased revenue by C$6.6M.", "CAD"),
        ("Klaviyo email increased revenue by EUR 18 million.", "EUR"),
    ],
)
def test_a_figure_in_another_currency_is_unsupported_naming_both(
    llm: llm_grpc.LlmServiceStub, text: str, written: str
) -> None:
    v, reason = verdict(llm, text)
    assert v == V.CLAIM_VERDICT_UNSUPPORTED, reason
    assert f"revenue in USD; the claim's figure is in {written}" in reason, reason


@pytest.mark.parametrize(
    "text",
    [
        "Meta prospecting increased revenue by $6.6M.",
        "Meta prospecting increased revenue by US$6.6M.",
        "Meta prospecting increased revenue by 6,632,778 USD.",
        "Meta prospecting increased revenue by 6.6 million dollars.",
        "Meta prospecting increased revenue by 6.6M.",
    ],
)
def test_a_figure_in_the_analysiss_currency_or_none_is_judged(
    llm: llm_grpc.LlmServiceStub, text: str
) -> None:
    v, reason = verdict(llm, text)
    assert v == V.CLAIM_VERDICT_SUPPORTED, reason


# -- R20-F8: a ROAS written as a percentage ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "said"),
    [
        # meta_prospecting's iROAS 2.08 [1.13, 3.03]; google_pmax's 4.02 [1.03, 7.01]
        ("Meta prospecting delivered a 208% iROAS.", V.CLAIM_VERDICT_SUPPORTED,
         "the claimed 208% read as a return of 2.08"),
        ("Meta prospecting had an incremental ROAS of 500%.", V.CLAIM_VERDICT_CONTRADICTED,
         "outside the 90% interval 1.13 to 3.03 (the claimed 500% read as a return of 5.00)"),
        ("Google pmax's incremental ROAS was 402%.", V.CLAIM_VERDICT_SUPPORTED,
         "inside the 90% interval 1.03 to 7.01"),
        ("Meta prospecting delivered a 90% return on ad spend.", V.CLAIM_VERDICT_CONTRADICTED,
         "read as a return of 0.9"),
        # a change in the return is not the return: unsupported, and the reason says why
        ("Meta prospecting's ROAS rose by 20%.", V.CLAIM_VERDICT_UNSUPPORTED,
         "not a percentage change in it"),
    ],
)  # fmt: skip
def test_a_roas_written_as_a_percentage_is_read_as_the_return(
    llm: llm_grpc.LlmServiceStub, text: str, expected: int, said: str
) -> None:
    v, reason = verdict(llm, text)
    assert v == expected and said in reason, reason
    assert "no baseline" not in reason
