"""A channel name that reads as a claim is the subject's name, never the claim (s18, T's note).

A customer's label "Promo - doubled sales" gave LiftOS's own headline "Promo - doubled sales
increased revenue by 900,000 USD (...)", which CheckClaims called CONTRADICTED ("doubled
sales" read as +100%); "no effect", "no effect test" and "did not increase" read as claims of
no effect (CONTRADICTED: the interval excludes zero), and "conversions" as the outcome in a
revenue analysis (UNSUPPORTED). So the grounded explanation dropped the channel's established
effect, and the guardrail removed an LLM sentence about it instead of rewriting it.

Over real causal and LLM servers on localhost, one stored attribution per name (the name's
channel and meta_prospecting, both established); the LLM is a local OpenAI-compatible endpoint.
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
from tests.llm.support import ChannelRows, attribution_of, claim_verdicts, store_analyses

ORG = "org_001"
V = pb.ClaimVerdict
# T's names, then names of the same kind: a figure, a return, a negation, the outcome itself
NAMES = (
    "Promo - doubled sales",
    "no effect",
    "no effect test",
    "did not increase",
    "conversions",
    "50% off",
    "2x ROAS",
    "Not Brand",
    "Revenue",
)
# labels a sentence or clause break runs through: the writer quotes them (R23-F5), and the
# reader never splits a claim inside one
BROKEN = ("Promo; no effect", "Promo, but sales doubled", "Promo. Sales doubled")
META = "meta_prospecting"


def _channels(name: str) -> ChannelRows:
    return {
        name: (400_000.0, (900_000, 300_000, 1_500_000), (2.25, 0.75, 3.75)),
        META: (3_188_836.0, (6_557_424, 3_525_589, 9_589_259), (2.06, 1.11, 3.01)),
    }


def _id(name: str) -> str:
    return f"an-name-{(*NAMES, *BROKEN).index(name)}"


def _analyses() -> list[causal_pb.Analysis]:
    return [attribution_of(_id(n), ORG, _channels(n)) for n in (*NAMES, *BROKEN)]


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llm_grpc.LlmServiceStub]:
    data: Path = tmp_path_factory.mktemp("claim-names")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as services:
        store_analyses(data, *_analyses())
        yield llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))


def _explain(llm: llm_grpc.LlmServiceStub, name: str, answer: str = "") -> pb.ExplanationDone:
    request = pb.ExplainRequest(org_id=ORG, analysis_id=_id(name), audience=pb.AUDIENCE_EXECUTIVE)
    if not answer:
        return list(llm.Explain(request, timeout=60))[-1].done
    with fake_openai(Script(pieces=words(answer))) as fake:
        request.llm.CopyFrom(pb.LlmEndpoint(url=fake.url, model="tiny"))
        return list(llm.Explain(request, timeout=60))[-1].done


def _headline(name: str) -> str:
    return f"{name[0].upper()}{name[1:]} increased revenue by 900,000 USD"


@pytest.mark.parametrize("name", NAMES)
def test_the_grounded_explanation_states_the_channels_effect_and_checkclaims_supports_it(
    llm: llm_grpc.LlmServiceStub, name: str
) -> None:
    done = _explain(llm, name)
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]
    assert _headline(name) in done.text
    judged = claim_verdicts(llm, ORG, _id(name), done.text)
    assert judged and all(v == V.CLAIM_VERDICT_SUPPORTED for _, v, _ in judged), judged
    assert any(_headline(name) in claim for claim, _, _ in judged)


@pytest.mark.parametrize("name", BROKEN)
def test_a_name_with_a_break_in_it_is_one_claims_subject(
    llm: llm_grpc.LlmServiceStub, name: str
) -> None:
    done = _explain(llm, name)
    assert not done.unsupported_claims, [(c.claim, c.reason) for c in done.unsupported_claims]
    headline = f"“{name}” increased revenue by 900,000 USD"
    assert headline in done.text
    judged = claim_verdicts(llm, ORG, _id(name), done.text)
    assert judged and all(v == V.CLAIM_VERDICT_SUPPORTED for _, v, _ in judged), judged
    over = claim_verdicts(llm, ORG, _id(name), f"“{name}” increased revenue by 5,000,000 USD.")
    assert [v for _, v, _ in over] == [V.CLAIM_VERDICT_CONTRADICTED], over


@pytest.mark.parametrize("name", NAMES)
def test_the_guardrail_rewrites_an_overclaim_about_the_channel(
    llm: llm_grpc.LlmServiceStub, name: str
) -> None:
    done = _explain(llm, name, f"{name} increased revenue by 5,000,000 USD.")
    assert [c.verdict for c in done.unsupported_claims] == [V.CLAIM_VERDICT_CONTRADICTED]
    assert done.text.startswith(_headline(name)), done.text  # rewritten, not removed


# the same words as prose, beside such a channel, still make the claim they say; the
# channel's own claims are still judged on what they say
@pytest.mark.parametrize(
    ("name", "text", "expected", "reason"),
    [
        ("Revenue", "Meta prospecting increased revenue by 6,557,424 USD.", "SUPPORTED", ""),
        ("Revenue", "Revenue increased revenue by 5,000,000 USD.", "CONTRADICTED", "1,500,000"),
        ("did not increase", "Meta prospecting did not increase revenue.", "CONTRADICTED",
         "3,525,589 to 9,589,259 excludes zero"),
        ("no effect", "Meta prospecting had no effect on revenue.", "CONTRADICTED",
         "3,525,589 to 9,589,259 excludes zero"),
        ("no effect", "No effect had no effect on revenue.", "CONTRADICTED",
         "300,000 to 1,500,000 excludes zero"),
        ("conversions", "Meta prospecting increased conversions by 5%.", "UNSUPPORTED",
         "not conversions"),
        ("conversions", "Conversions increased revenue by 900,000 USD.", "SUPPORTED", ""),
        ("Promo - doubled sales", "Promo - doubled sales doubled revenue.", "CONTRADICTED",
         "outside"),
        ("50% off", "50% off increased revenue by 5,000,000 USD.", "CONTRADICTED", "outside"),
        ("2x ROAS", "2x ROAS returned 2.25 per dollar spent.", "SUPPORTED", ""),
        ("Not Brand", "Not Brand did not increase revenue.", "CONTRADICTED", "excludes zero"),
    ],
)  # fmt: skip
def test_the_words_of_a_name_are_still_read_where_they_are_prose(
    llm: llm_grpc.LlmServiceStub, name: str, text: str, expected: str, reason: str
) -> None:
    ((_, v, why),) = claim_verdicts(llm, ORG, _id(name), text)
    assert v == V.Value(f"CLAIM_VERDICT_{expected}"), why
    assert reason in why
