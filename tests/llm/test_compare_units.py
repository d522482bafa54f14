"""`liftos compare` and Explain's "what changed since <id>" on a revenue analysis beside a
conversions one of the same data (audit R10-F12), over real causal and LLM servers on localhost.

The audit: "120 day(s) of the overlap read another outcome (restated or late rows) … -121,462,088
in all", and the grounded writer's "the two iROAS intervals of google pmax do not overlap: a
change the analyses tell apart" — a units mismatch (USD vs conversions) read as a restatement
and as changes. Now the mismatch is said first and no outcome figure is differenced or judged."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.analyses import AnalysisStore, StoredAnalysis
from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from mesh.cli.commands import main
from mesh.runtime.inprocess import RunningService, running_services
from tests.llm.fake_openai import Script, fake_openai, words
from tests.llm.test_claims_spend_and_margin import ORG, attribution

REVENUE, CONVERSIONS = "an-" + "a" * 19 + "1", "an-" + "c" * 19 + "2"
DAYS = [dt.date(2024, 9, 15) + dt.timedelta(days=i) for i in range(4)]


def _stored(analysis_id: str, outcome: common_pb.OutcomeMetric.ValueType, unit: float):
    a = attribution(analysis_id, outcome, unit)
    for d in DAYS:  # the same four days of data, read in each analysis's outcome
        a.attribution.daily.dates.add(year=d.year, month=d.month, day=d.day)
    a.attribution.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=9, day=15))
    a.attribution.date_range.end_date.CopyFrom(common_pb.Date(year=2024, month=9, day=18))
    a.attribution.day_count = 4
    return a


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    data: Path = tmp_path_factory.mktemp("compare-units")
    with running_services({"causal": causal_build, "llm": llm_build}, data) as running:
        store = AnalysisStore(data / "causal" / "analyses.sqlite")
        made = dt.datetime(2025, 1, 13, tzinfo=dt.UTC)
        for i, a in enumerate(
            (
                _stored(REVENUE, common_pb.OUTCOME_METRIC_REVENUE, 1.0),
                _stored(CONVERSIONS, common_pb.OUTCOME_METRIC_CONVERSIONS, 1 / 94),
            )
        ):
            a.create_time.FromDatetime(made + dt.timedelta(hours=i))
            store.put(StoredAnalysis(ORG, a.analysis_id, "attribution",
                                     made + dt.timedelta(hours=i), a.SerializeToString()))  # fmt: skip
        store.close()
        yield running


def test_compare_says_the_outcomes_differ_and_differences_nothing(
    services: dict[str, RunningService], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    assert main(["compare", REVENUE, CONVERSIONS, "--org", ORG]) == 0
    text = capsys.readouterr().out
    first = text.splitlines()[0]
    assert first.startswith("NOT COMPARABLE: ")
    assert f"{REVENUE} models revenue (USD) and {CONVERSIONS} models conversions" in first
    assert "restated" not in text and "overlap" not in text
    assert "DO NOT OVERLAP" not in text and "->" in text  # spends only
    assert (
        f"A {REVENUE}: 2024-09-15..2024-09-18 (4 days)" in text and "; revenue 122,774,178" in text
    )
    assert "; conversions 1,306,108" in text  # 122,774,178 / 94, named as conversions
    assert "google_pmax" in text and "2,060,574 -> 2,060,574" in text

    assert main(["compare", REVENUE, CONVERSIONS, "--org", ORG, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcomes"] == ["revenue", "conversions"] and data["mismatch"]
    assert data["restated"] == [] and all(c["overlap"] is None for c in data["channels"])


def test_explain_what_changed_says_the_outcomes_differ_first(
    services: dict[str, RunningService],
) -> None:
    llm = llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address))
    done = None
    for reply in llm.Explain(
        pb.ExplainRequest(
            org_id=ORG, analysis_id=CONVERSIONS, question=f"what changed since {REVENUE}?",
            audience=pb.AUDIENCE_ANALYST,
        ),
        timeout=30,
    ):  # fmt: skip
        if reply.WhichOneof("event") == "done":
            done = reply.done
    assert done is not None and not done.unsupported_claims
    text = done.text
    assert (
        f"The two are not comparable: {REVENUE} models revenue (USD) and {CONVERSIONS} models "
        "conversions"
    ) in text
    assert "restated or late rows" not in text and "tell apart" not in text
    after = text.split("only the spends are set side by side.")[1]
    assert "lower in total" not in text and "iROAS" not in after and "incremental" not in after
    assert (
        "Google pmax, earlier then later, as each analysis reported it: spend 2,060,574 in both."
        in text
    )
    # what an LLM writer is given for the same question: the mismatch, and no move to judge
    with fake_openai(Script(pieces=words("Nothing to add."))) as fake:
        for _ in llm.Explain(
            pb.ExplainRequest(
                org_id=ORG, analysis_id=CONVERSIONS, question=f"what changed since {REVENUE}?",
                llm=pb.LlmEndpoint(url=fake.url, model="tiny"),
            ),
            timeout=30,
        ):  # fmt: skip
            pass
    prompt = json.dumps(fake.requests[0].body["messages"])
    assert "NOT COMPARABLE" in prompt and "a change the analyses tell apart" not in prompt
    assert "not compared (other units)" in prompt
