"""Explain answers "what changed since <analysis id>" (audit R5-F5) over real memory, causal and
LLM servers: last week's analysis beside the same window re-run after a pull restated three of
its days (the world ``liftos compare`` is tested on). Every figure of the answer is read back
from the two stored analyses here, not through the service's own comparison."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import replace

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import llm_pb2 as pb
from liftos.v1 import llm_pb2_grpc as llm_grpc

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from llm_svc.app import build as llm_build
from llm_svc.convert import analysis_from_proto
from llm_svc.errors import InvalidRequest
from llm_svc.evidence import Analysis, Audience
from llm_svc.explain import Done, explain_grounded
from llm_svc.numbers import fmt
from llm_svc.settings import LlmSettings
from llm_svc.what_changed import (
    MAX_NAMED,
    RESTATED_CHANGE,
    RESTATED_DAYS,
    Change,
    named_analyses,
)
from memory_svc.app import build as memory_build
from mesh.runtime.analysis_compare import compare
from mesh.runtime.inprocess import Build, running_services
from mesh.runtime.status import decode_status
from mesh.runtime.tables import frame_to_table
from tests.llm.fake_openai import Script, fake_openai, words
from tests.surfacing import drift_world as w

NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The mesh; the analysis before and after the restatement; an effect estimate in the same
    org and one in another org."""
    builds: dict[str, Build] = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build,
              "llm": functools.partial(llm_build, settings=LlmSettings(timeout_s=5.0, retries=1))}  # fmt: skip
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        before = w.analyze(services["causal"].address)
        w.write(services["memory"].address,
                w.restated(w.RESTATED, revenue=1.05, channel="meta_prospecting", spend=1.10))  # fmt: skip
        after = w.analyze(services["causal"].address)
        shorter = w.analyze(services["causal"].address, end=w.CUT - dt.timedelta(days=14))
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        stored = {
            a: causal.GetAnalysis(causal_pb.GetAnalysisRequest(org_id=w.ORG, analysis_id=a)).analysis
            for a in (before.analysis_id, after.analysis_id, shorter.analysis_id)
        }  # fmt: skip
        yield {
            "services": services,
            "a": stored[before.analysis_id],
            "b": stored[after.analysis_id],
            "c": stored[shorter.analysis_id],  # made last, over the window's first 71 days
            "estimate": _estimate(causal, w.ORG),
            "theirs": _estimate(causal, "globex"),
            "llm": llm_grpc.LlmServiceStub(grpc.insecure_channel(services["llm"].address)),
        }


def _estimate(causal: causal_grpc.CausalServiceStub, org: str) -> str:
    rng = np.random.default_rng(1)
    treated = rng.permutation(np.repeat([0, 1], 100))
    frame = pd.DataFrame({"tiktok": treated, "revenue": 100 + 5 * treated + rng.normal(0, 5, 200)})
    return causal.EstimateEffect(
        causal_pb.EstimateEffectRequest(
            org_id=org, method=causal_pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS,
            table=frame_to_table(frame),
            roles=causal_pb.EffectRoles(outcome="revenue", treatment="tiktok"),
            options=causal_pb.EstimationOptions(refutation_simulations=5, seed=1), randomized=True,
        )
    ).analysis_id  # fmt: skip


def _explain(stub: llm_grpc.LlmServiceStub, **fields: object) -> pb.ExplanationDone:
    request = pb.ExplainRequest(org_id=w.ORG, **fields)  # type: ignore[arg-type]
    deltas, done = [], None
    for reply in stub.Explain(request, timeout=60):
        if reply.WhichOneof("event") == "text_delta":
            deltas.append(reply.text_delta)
        else:
            done = reply.done
    assert done is not None and "".join(deltas).rstrip() == done.text
    return done


def _day(d: common_pb.Date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _restated(a: causal_pb.Analysis, b: causal_pb.Analysis) -> dict[str, float]:
    """Each day both hold whose outcome differs: b's less a's."""
    da = dict(
        zip(map(_day, a.attribution.daily.dates), a.attribution.daily.actual_outcome, strict=True)
    )
    db = dict(
        zip(map(_day, b.attribution.daily.dates), b.attribution.daily.actual_outcome, strict=True)
    )
    return {d: db[d] - da[d] for d in sorted(set(da) & set(db)) if abs(db[d] - da[d]) > 0.01}


def _allowed(stored: dict[str, causal_pb.Analysis], aid: str, fact: str) -> set[str]:
    """The texts a figure citing ``fact`` of ``aid`` may read as, from the stored analysis."""
    if fact == "analysis_id":  # the lead names every analysis compared
        return {aid}
    a = stored[aid]
    r = a.attribution
    a_, b_ = stored.values()
    if fact in ("record_count", "day_count"):
        return {f"{getattr(r, fact):,}"}
    if fact in ("window.start", "window.end"):
        return {_day(r.date_range.start_date if fact == "window.start" else r.date_range.end_date)}
    if fact == "create_time":
        return {f"{a.create_time.ToDatetime(tzinfo=dt.UTC):%Y-%m-%d}"}
    if fact == "daily.dates":
        return set(map(_day, r.daily.dates))
    if fact == RESTATED_DAYS:
        return {str(len(_restated(a_, b_)))}
    if fact == RESTATED_CHANGE:
        return {fmt(abs(sum(_restated(a_, b_).values())))}
    m = re.fullmatch(r"channels\[(\w+)\]\.(\w+)\.(\w+)", fact)
    assert m, f"a fact this test does not know: {fact}"
    channel, field, part = m.groups()
    (row,) = [c for c in r.channels if c.channel == channel]
    value = getattr(row, field)
    if part == "level":
        return {f"{round(100 * value.level) if 0 < value.level < 1 else 95}%"}
    return {fmt(getattr(value, part))}


def _assert_grounded(done: pb.ExplanationDone, stored: dict[str, causal_pb.Analysis]) -> None:
    """Every number and date of the text is covered by a citation whose fact reads so."""
    text = done.text
    assert not done.unsupported_claims, "the guardrail changed the grounded writer's own text"
    for m in [*NUMBER.finditer(DATE.sub(lambda d: "D" * len(d.group()), text)),
              *DATE.finditer(text)]:  # fmt: skip
        covering = [c for c in done.citations if c.start <= m.start() and m.end() <= c.end]
        assert covering, f"uncited {m.group()!r} in …{text[max(0, m.start() - 60) : m.end()]}…"
        assert any(
            text[c.start : c.end] in _allowed(stored, c.analysis_id, c.fact) for c in covering
        ), f"{m.group()!r} cited as {[(c.analysis_id, c.fact) for c in covering]} is not that"


def _within(x: common_pb.Interval, y: common_pb.Interval) -> bool:
    """Each estimate inside the other's interval: what ``liftos compare`` calls "cannot tell
    apart" (R42-F3), read here from the two stored intervals."""
    return x.lower <= y.estimate <= x.upper and y.lower <= x.estimate <= y.upper


def test_explain_answers_what_changed_since_the_analysis_a_question_names(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world["a"], world["b"]
    A, B = a.analysis_id, b.analysis_id
    done = _explain(world["llm"], analysis_id=B,
                    question=f"What changed since last week's analysis {A}?")  # fmt: skip
    text = done.text
    assert text.startswith(f"The question names analysis {A}: what changed between it and this "
                           f"analysis ({B}) follows")  # fmt: skip
    records = f"{b.attribution.record_count:,}"
    assert (f"Analyses {A} (the earlier) and {B} (the later) both read {records} records over "
            "the same 85 days, 2024-09-15 to 2024-12-08.") in text  # fmt: skip
    restated = _restated(a, b)
    assert list(restated) == [str(d) for d in w.RESTATED]
    size = 0.05 * w.first_party_revenue(w.RESTATED)
    total = re.search(r"on them the revenue of \S+ is ([\d,]+) higher in total", text)
    assert total and float(total.group(1).replace(",", "")) == pytest.approx(size, abs=1)
    assert (f"3 days read another revenue in {B} than in {A} (restated or late rows): "
            "2024-12-06 to 2024-12-08;") in text  # fmt: skip
    rows = {c.channel: c for c in a.attribution.channels}
    for cb in b.attribution.channels:
        ca = rows[cb.channel]
        name = cb.channel.replace("_", " ")
        line = next(s for s in text.split(". ")
                    if s.startswith(f"{name.capitalize()}, earlier then later, as each analysis "
                                    "reported it: "))  # fmt: skip
        sa, sb = fmt(ca.spend.amount), fmt(cb.spend.amount)
        if ca.spend.amount or cb.spend.amount:
            assert f"spend {sa} in both" in line if sa == sb else f"spend {sa} then {sb}" in line
        else:
            assert "spend" not in line
        assert (f"incremental revenue {fmt(ca.incremental_outcome.estimate)} "
                f"(90% CI {fmt(ca.incremental_outcome.lower)} to "
                f"{fmt(ca.incremental_outcome.upper)}) then "
                f"{fmt(cb.incremental_outcome.estimate)}") in line  # fmt: skip
        if cb.HasField("incremental_roas"):
            assert f"iROAS {fmt(ca.incremental_roas.estimate)} (" in line
            within = _within(ca.incremental_roas, cb.incremental_roas)
            what = "iROAS"
        else:
            within = _within(ca.incremental_outcome, cb.incremental_outcome)
            what = "incremental revenue"
        if within:
            assert (f"Each {what} estimate of {name} lies inside the other analysis's interval, "
                    "so the move is not a change the analyses can tell apart") in text  # fmt: skip
        else:
            assert re.search(f"{what} estimates? of {name} lies? beyond the (other|earlier|later) "
                             "analysis's interval: a change the analyses tell apart", text)  # fmt: skip
    then, now = (
        rows["meta_prospecting"].spend.amount,
        next(c.spend.amount for c in b.attribution.channels if c.channel == "meta_prospecting"),
    )
    assert now > then  # its restated spend, read back in the answer
    _assert_grounded(done, {A: a, B: b})
    assert {c.analysis_id for c in done.citations} == {A, B}

    # explaining the older one with a question naming the newer: the same order, A then B
    back = _explain(world["llm"], analysis_id=A, question=f"And in {B}?")
    assert f"3 days read another revenue in {B} than in {A}" in back.text
    _assert_grounded(back, {A: a, B: b})


def test_a_question_naming_channels_and_an_executive_get_less(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world["a"], world["b"]
    A, B = a.analysis_id, b.analysis_id
    done = _explain(world["llm"], analysis_id=B, question=f"What changed for TikTok since {A}?")
    assert "follows for tiktok," in done.text and "Tiktok, earlier then later" in done.text
    assert "Meta prospecting, earlier" not in done.text
    _assert_grounded(done, {A: a, B: b})
    brief = _explain(world["llm"], analysis_id=B, question=f"Since {A}?",
                     audience=pb.AUDIENCE_EXECUTIVE)  # fmt: skip
    full = _explain(world["llm"], analysis_id=B, question=f"Since {A}?")
    assert len(brief.text) < len(full.text) and "3 days read another revenue" in brief.text
    # the channels whose estimates each lie inside the other's interval: one sentence for all
    rows = {c.channel: c for c in a.attribution.channels}
    within = sorted(
        cb.channel.replace("_", " ") for cb in b.attribution.channels
        if _within(*((rows[cb.channel].incremental_roas, cb.incremental_roas)
                     if cb.HasField("incremental_roas")
                     else (rows[cb.channel].incremental_outcome, cb.incremental_outcome)))
    )  # fmt: skip
    assert within  # this world has such channels; a channel that moved gets its own sentence
    assert ("Tiktok, earlier then later" in brief.text) is ("tiktok" not in within)
    names = within[0] if len(within) == 1 else ", ".join(within[:-1]) + " and " + within[-1]
    assert (f"{names}, each analysis's estimate lies inside the other's interval, so their "
            "moves are not changes the analyses can tell apart") in brief.text  # fmt: skip
    _assert_grounded(brief, {A: a, B: b})


def test_a_question_naming_two_analyses_gets_each_compared(world) -> None:  # type: ignore[no-untyped-def]
    a, b, c = world["a"], world["b"], world["c"]
    A, B, C = a.analysis_id, b.analysis_id, c.analysis_id
    done = _explain(world["llm"], analysis_id=B, question=f"Since {A}, and vs {C}?")
    assert done.text.startswith(f"The question names analyses {A} and {C}: what changed between "
                                f"each and this analysis ({B}) follows")  # fmt: skip
    assert f"3 days read another revenue in {B} than in {A}" in done.text
    # the shorter window, made after B: B is the earlier of that pair, and their windows differ
    assert (f"Analysis {B} (the earlier) read {b.attribution.record_count:,} records over 85 days, "
            f"2024-09-15 to 2024-12-08; analysis {C} (the later) read "
            f"{c.attribution.record_count:,} records over 71 days, 2024-09-15 to 2024-11-24."
            ) in done.text  # fmt: skip
    assert ("Every day both windows hold (2024-09-15 to 2024-11-24) read the same revenue in "
            "both.") in done.text  # fmt: skip
    assert done.text.count("Tiktok, earlier then later") == 2
    second = done.text.index(f"Analysis {B} (the earlier)")
    _assert_grounded(_part(done, 0, second), {A: a, B: b})  # the figures of the first pair …
    _assert_grounded(_part(done, second, len(done.text)), {B: b, C: c})  # … and the second's


def _part(done: pb.ExplanationDone, start: int, end: int) -> pb.ExplanationDone:
    """``done.text[start:end]`` with the citations inside it."""
    return pb.ExplanationDone(
        text=done.text[start:end],
        citations=[
            pb.Citation(analysis_id=x.analysis_id, fact=x.fact, start=x.start - start,
                        end=x.end - start)
            for x in done.citations if start <= x.start and x.end <= end
        ],
    )  # fmt: skip


def test_a_question_without_another_id_is_answered_as_before(world) -> None:  # type: ignore[no-untyped-def]
    """The service's answer is the grounded writer's on this analysis alone, byte for byte:
    for no question, a question naming no id, its own id, or something only like an id. (This
    mesh runs no surfacing service: the answer ends saying its data was not checked, and why.)"""
    b = world["b"]
    B = b.analysis_id
    alone = analysis_from_proto(b)
    for question in ("", "Which channel is best?", f"What changed in {B}?",
                     f"Since {B[:-1]}?", f"Since {B.upper()}?", f"Since x{world['a'].analysis_id}?"):  # fmt: skip
        done = _explain(world["llm"], analysis_id=B, question=question)
        (why,) = [done.text[c.start : c.end] for c in done.citations if c.fact == "data_check"]
        expected = _grounded([replace(alone, data_unchecked=why)], question)
        assert done.text == expected.text, question
        assert "read another revenue" not in done.text


def _refused(world, **fields) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        _explain(world["llm"], **fields)
    return caught.value


def test_an_unknown_or_other_orgs_analysis_is_not_found_naming_the_question(world) -> None:  # type: ignore[no-untyped-def]
    B = world["b"].analysis_id
    unknown = "an-" + "0" * 20
    error = _refused(world, analysis_id=B, question=f"What changed since {unknown}?")
    status = decode_status(error)
    assert status.code == grpc.StatusCode.NOT_FOUND and status.reason == "ANALYSIS_NOT_FOUND"
    assert unknown in status.message and "question" in status.message
    # another org's attribution, named in a question of this org: not found, nothing of it shown
    theirs = world["theirs"]
    with pytest.raises(grpc.RpcError) as caught:
        list(world["llm"].Explain(pb.ExplainRequest(
            org_id="globex", analysis_id=theirs, question=f"What changed since {B}?"), timeout=60))  # fmt: skip
    status = decode_status(caught.value)
    assert status.code == grpc.StatusCode.NOT_FOUND and status.reason == "ANALYSIS_NOT_FOUND"
    assert B in status.message and "question" in status.message and "globex" in status.message
    # and this org's question naming another org's analysis
    error = _refused(world, analysis_id=B, question=f"What changed since {theirs}?")
    assert decode_status(error).code == grpc.StatusCode.NOT_FOUND


def test_an_analysis_that_is_not_an_attribution_is_a_failed_precondition(world) -> None:  # type: ignore[no-untyped-def]
    B, estimate = world["b"].analysis_id, world["estimate"]
    for own, named, subject in ((B, estimate, "question"), (estimate, B, "analysis_id")):
        status = decode_status(_refused(world, analysis_id=own, question=f"Since {named}?"))
        assert status.code == grpc.StatusCode.FAILED_PRECONDITION
        assert status.reason == "ANALYSIS_NOT_COMPARABLE"
        assert [p[1] for p in status.preconditions] == [subject]


def test_the_llm_writer_reads_the_comparison_and_is_checked(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world["a"], world["b"]
    A, B = a.analysis_id, b.analysis_id
    answer = (f"Three days were restated between {A} and {B}. "
              "TikTok drove a 900% lift in revenue.")  # fmt: skip
    with fake_openai(Script(pieces=words(answer))) as fake:
        done = _explain(world["llm"], analysis_id=B, question=f"What changed since {A}?",
                        llm=pb.LlmEndpoint(url=fake.url, model="tiny"))  # fmt: skip
    (seen,) = fake.requests
    context = seen.body["messages"][1]["content"]
    assert (
        "# What changed between analyses" in context and f"## From {A} (earlier) to {B}" in context
    )
    restated = _restated(a, b)
    assert (f"3 read another revenue in {B} than in {A}" in context
            and "2024-12-06 to 2024-12-08" in context)  # fmt: skip
    assert f"{fmt(abs(sum(restated.values())))} higher in total" in context
    meta = next(c for c in a.attribution.channels if c.channel == "meta_prospecting")
    assert (f"spend {fmt(meta.spend.amount)} [{A}:channels[meta_prospecting].spend.amount]"
            in context)  # fmt: skip
    assert done.writer == pb.EXPLANATION_WRITER_LLM
    assert done.text.startswith(f"Three days were restated between {A} and {B}.")
    (flag,) = done.unsupported_claims
    assert flag.claim.startswith("TikTok drove a 900% lift") and "900%" not in done.text


def test_the_ids_a_question_names() -> None:
    own, other = "an-" + "a" * 20, "an-" + "0123456789abcdef0123"
    q = f"Since {other} and ({other}), vs {own}; not an-{'a' * 19}, an-{'a' * 21}, AN-{'A' * 20}"
    assert named_analyses(q, own) == (other,)
    assert named_analyses(f"x{other} {other}_1 {other}-2", own) == ()
    many = " ".join(f"an-{i:020x}" for i in range(MAX_NAMED + 1))
    with pytest.raises(InvalidRequest) as caught:
        named_analyses(many, own)
    assert caught.value.field == "question"


def _attribution(
    aid: str, day: int, roas: tuple[float, float, float], hour: int
) -> causal_pb.Analysis:
    """A one-channel attribution over 2024-01-01..day (outcome 100 a day, 120 on the 2nd)."""
    a = causal_pb.Analysis(analysis_id=aid)
    a.create_time.FromSeconds(1_700_000_000 + 3600 * hour)
    r = a.attribution
    r.record_count, r.day_count = 10 * day, day
    r.date_range.start_date.CopyFrom(common_pb.Date(year=2024, month=1, day=1))
    r.date_range.end_date.CopyFrom(common_pb.Date(year=2024, month=1, day=day))
    for d in range(1, day + 1):
        r.daily.dates.add(year=2024, month=1, day=d)
        r.daily.actual_outcome.append(120.0 if d == 2 and hour else 100.0)
    c = r.channels.add(channel="tiktok", identified=True)
    c.spend.amount = 50.0
    c.incremental_roas.CopyFrom(
        common_pb.Interval(estimate=roas[0], lower=roas[1], upper=roas[2], level=0.9)
    )
    c.incremental_outcome.CopyFrom(common_pb.Interval(
        estimate=50 * roas[0], lower=50 * roas[1], upper=50 * roas[2], level=0.9))  # fmt: skip
    r.health.verdict = causal_pb.HEALTH_VERDICT_PASS
    return a


def _grounded(
    analyses: list[Analysis],
    question: str,
    changes: tuple[Change, ...] = (),
    audience: Audience = Audience.ANALYST,
) -> Done:
    async def run() -> Done:
        async for event in explain_grounded(analyses, audience, question, changes):
            if isinstance(event, Done):
                return event
        raise AssertionError("no done")

    return asyncio.run(run())


def _grounded_change(
    first: causal_pb.Analysis,
    second: causal_pb.Analysis,
    question: str,
    audience: Audience = Audience.ANALYST,
) -> Done:
    own = analysis_from_proto(second)
    return _grounded(
        [own], question, (Change(analysis_from_proto(first), own, compare(first, second)),),
        audience,
    )  # fmt: skip


def test_a_move_beyond_both_intervals_is_said_to_be_one() -> None:
    """Intervals that do not overlap: a change the analyses tell apart; the guardrail passes
    each sentence untouched (they report each analysis's figures, they claim nothing new)."""
    old = _attribution("an-" + "1" * 20, 3, (1.0, 0.8, 1.2), 0)
    new = _attribution("an-" + "2" * 20, 4, (2.0, 1.5, 2.5), 1)
    done = _grounded_change(old, new, f"Did TikTok change since {old.analysis_id}?")
    assert not done.flagged, done.flagged
    text = done.text
    assert f"Analysis {old.analysis_id} (the earlier) read 30 records over 3 days, 2024-01-01 " \
           "to 2024-01-03;" in text  # fmt: skip
    assert "1 day read another revenue in" in text and ": 2024-01-02; on it the revenue of" in text
    assert "is 20.00 higher in total" in text
    assert (
        "spend 50.00 in both, incremental revenue 50.00 (90% CI 40.00 to 60.00) then 100 "
        "(90% CI 75.00 to 125), iROAS 1.00 (90% CI 0.8 to 1.20) then 2.00"
    ) in text
    assert ("Each iROAS estimate of tiktok lies beyond the other analysis's interval: a change "
            "the analyses tell apart") in text  # fmt: skip
    # days the windows do not share, and a channel only one analysis has
    later = _attribution("an-" + "3" * 20, 2, (1.0, 0.8, 1.2), 2)
    later.attribution.daily.ClearField("dates")
    later.attribution.daily.ClearField("actual_outcome")
    later.attribution.channels[0].channel = "meta_prospecting"
    done = _grounded_change(old, later, old.analysis_id)
    assert not done.flagged
    assert "The two windows share no day, so no day's revenue can be compared." in done.text
    assert "Tiktok has figures in one of the two analyses only" in done.text
    assert "iROAS 1.00 (90% CI 0.8 to 1.20) then no figure" in done.text


def test_a_model_not_passing_its_health_checks_is_said() -> None:
    old = _attribution("an-" + "1" * 20, 3, (1.0, 0.8, 1.2), 0)
    new = _attribution("an-" + "2" * 20, 3, (1.1, 0.8, 1.3), 1)
    for a in (old, new):
        a.attribution.health.checks.add(name="holdout", verdict=causal_pb.HEALTH_VERDICT_PASS)
    done = _grounded_change(old, new, old.analysis_id)
    assert "Model health" not in done.text  # both PASS: nothing to say
    new.attribution.health.checks[0].verdict = causal_pb.HEALTH_VERDICT_REVIEW
    new.attribution.health.verdict = causal_pb.HEALTH_VERDICT_REVIEW
    done = _grounded_change(old, new, old.analysis_id)
    assert not done.flagged
    assert ("Model health: PASS in the earlier, REVIEW in the later; a figure of a model under "
            "REVIEW is indicative rather than established.") in done.text  # fmt: skip
    assert ("Each iROAS estimate of tiktok lies inside the other analysis's interval, so the move "
            "is not a change") in done.text  # fmt: skip


def test_explain_judges_a_move_by_the_rule_compare_prints() -> None:
    """s19 V2-F4: R42's meta prospecting pair, 2.02 [0.40, 4.11] then 0.00 [0, 1.85]: the two
    intervals overlap, yet each estimate lies beyond the other's interval; ``liftos compare``
    says MOVED, and Explain (both audiences) said "cannot tell apart". Now both say moved; and a
    pair with each estimate inside the other's interval is "cannot tell apart" in both."""
    from mesh.cli.compare import lines

    for roas, moved in (((0.0, 0.0, 1.85), True), ((1.5, 0.5, 3.0), False)):
        old = _attribution("an-" + "1" * 20, 3, (2.02, 0.40, 4.11), 0)
        new = _attribution("an-" + "2" * 20, 3, roas, 1)
        table = next(x for x in lines(compare(old, new)) if x.startswith("tiktok"))
        assert ("MOVED" in table) is moved, table
        analyst = _grounded_change(old, new, old.analysis_id).text
        executive = _grounded_change(old, new, old.analysis_id, Audience.EXECUTIVE).text
        if moved:
            assert ("Each iROAS estimate of tiktok lies beyond the other analysis's interval: a "
                    "change the analyses tell apart.") in analyst  # fmt: skip
            assert "Tiktok, earlier then later" in executive and "tell apart." in executive
            assert "can tell apart" not in analyst + executive
        else:
            assert ("Each iROAS estimate of tiktok lies inside the other analysis's interval, so "
                    "the move is not a change the analyses can tell apart.") in analyst  # fmt: skip
            assert (
                "For tiktok, each analysis's estimate lies inside the other's interval, so "
                "their moves are not changes the analyses can tell apart."
            ) in executive
