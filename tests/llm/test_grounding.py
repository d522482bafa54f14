"""Grounding: every number in a default explanation is a fact of the analysis it cites, or a
figure derived from facts in the way its citation names — for every method, every audience.

The facts are read straight from the stored ``Analysis`` message here (not through the
service's own conversion), so the test checks the writer against the contract.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from liftos.v1 import causal_pb2 as causal_pb

from llm_svc.evidence import Audience
from llm_svc.explain import Delta, Done, explain_grounded
from llm_svc.numbers import fmt, fmt_pct
from tests.llm.support import Fixture, fixtures

NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?%?")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _explain(fixture: Fixture, audience: Audience) -> tuple[list[str], Done]:
    async def run() -> tuple[list[str], Done]:
        deltas, done = [], None
        async for event in explain_grounded([fixture.analysis], audience):
            if isinstance(event, Delta):
                deltas.append(event.text)
            else:
                done = event
        assert done is not None
        return deltas, done

    return asyncio.run(run())


def _check(e: causal_pb.EffectEstimate, kind: str) -> causal_pb.Check:
    return next(
        c for c in e.checks if causal_pb.CheckKind.Name(c.kind).lower() == f"check_kind_{kind}"
    )


def _allowed(a: causal_pb.Analysis, fact: str) -> tuple[set[str], str | None]:
    """(texts the figure may read as, free text it may be quoted from) for one fact."""
    e = a.estimate
    mean = e.statistics.get("mean_control") or e.statistics.get("average_counterfactual")
    simple = {
        "point_estimate": e.point_estimate, "ci_lower": e.ci_lower, "ci_upper": e.ci_upper,
        "p_value": e.p_value, "std_error": e.std_error,
    }  # fmt: skip
    if fact in simple:
        return {fmt(simple[fact])}, None
    if fact in ("n", "n_treated", "n_control"):
        return {f"{getattr(e, fact):,}"}, None
    if fact.startswith("statistics."):
        return {fmt(e.statistics[fact.removeprefix("statistics.")])}, None
    if fact == "derived:level = 1 - alpha":
        return {f"{round(100 * (1 - e.alpha))}%"}, None
    if fact == "derived:abs(point_estimate)":
        return {fmt(abs(e.point_estimate))}, None
    if fact.startswith("derived:relative_effect = point_estimate / statistics."):
        return {fmt_pct(abs(e.point_estimate / mean))}, None
    if fact.startswith("derived:relative_ci = CI / statistics."):
        return {fmt_pct(e.ci_lower / mean), fmt_pct(e.ci_upper / mean)}, None
    if fact.startswith("check:"):
        kind, _, part = fact.removeprefix("check:").partition(".")
        c = _check(e, kind)
        if part == "statistic":
            return {fmt(c.statistic)}, None
        if part == "p_value":
            return {fmt(c.p_value)}, None
        if part == "interpretation":
            return set(), c.interpretation
        return set(), None
    if fact.startswith("strategy.assumptions["):
        return set(), e.strategy.assumptions[int(fact[len("strategy.assumptions[") : -1])]
    if fact == "strategy.reason":
        return set(), e.strategy.reason
    if fact.startswith("warnings["):
        return set(), e.warnings[int(fact[len("warnings[") : -1])]
    if fact == "analysis_id":
        return {a.analysis_id}, None
    if fact == "create_time":
        return {f"{a.create_time.ToDatetime(tzinfo=dt.UTC):%Y-%m-%d}"}, None
    if fact in ("window.start", "window.end"):
        r = a.request.records.date_range
        d = r.start_date if fact == "window.start" else r.end_date
        return {f"{d.year:04d}-{d.month:02d}-{d.day:02d}"}, None
    return set(), None


CASES = [(f, aud) for f in fixtures() for aud in Audience]


def test_the_fixture_covers_every_method_several_times() -> None:
    methods = [f.method for f in fixtures()]
    assert len(set(methods)) >= 13
    assert all(methods.count(m) >= 3 for m in set(methods))


@pytest.mark.parametrize(
    ("fixture", "audience"), CASES, ids=[f"{f.name}-{a.value}" for f, a in CASES]
)
def test_every_number_is_a_cited_fact(fixture: Fixture, audience: Audience) -> None:
    deltas, done = _explain(fixture, audience)
    text = done.text
    assert "".join(deltas).rstrip() == text, "the deltas add up to the final text"
    assert not done.flagged, f"the guardrail changed the grounded writer's own text: {done.flagged}"
    spans = [(c.start, c.end, c) for c in done.cites]
    for c in done.cites:
        assert c.analysis_id == fixture.proto.analysis_id
        assert 0 <= c.start < c.end <= len(text)
    for m in [
        *NUMBER.finditer(DATE.sub(lambda d: "D" * len(d.group()), text)),
        *DATE.finditer(text),
    ]:
        covering = [c for s, e, c in spans if s <= m.start() and m.end() <= e]
        assert covering, (
            f"uncited number {m.group()!r} in: …{text[max(0, m.start() - 60) : m.end() + 20]}…"
        )
        ok = False
        for c in covering:
            allowed, quoted = _allowed(fixture.proto, c.fact)
            cited = text[c.start : c.end]
            if cited in allowed or (
                quoted is not None and cited.lower().rstrip(".") in quoted.lower()
            ):
                ok = True
        assert ok, f"{m.group()!r} cited as {[c.fact for c in covering]} is not that fact"


@pytest.mark.parametrize("fixture", fixtures(), ids=lambda f: f.name)
def test_wording_follows_the_evidence(fixture: Fixture) -> None:
    """An effect is stated plainly only when identified, supported by its checks, free of
    warnings and its interval excludes zero; otherwise the text says why not."""
    _, done = _explain(fixture, Audience.ANALYST)
    e = fixture.proto.estimate
    first = done.text.split(". ")[0]
    naive = e.method == causal_pb.ESTIMATION_METHOD_NAIVE_REGRESSION
    warned = any(c.outcome == causal_pb.CHECK_OUTCOME_WARNING for c in e.checks)
    if naive:
        assert "correlation" in first and "not a causal estimate" in first
    elif not e.supported:
        assert "is not supported" in first
    elif e.ci_lower <= 0 <= e.ci_upper:
        assert first.startswith("We could not detect an effect")
    elif warned:
        assert first.startswith("The estimate suggests") and "may have" in first
    else:
        assert re.search(r"\b(increased|reduced)\b", first) and "CI" in first


def test_executives_get_fewer_sentences_than_data_scientists() -> None:
    for f in fixtures()[:6]:
        _, short = _explain(f, Audience.EXECUTIVE)
        _, long = _explain(f, Audience.DATA_SCIENTIST)
        assert len(short.text) < len(long.text)
        assert "standard error" in long.text and "standard error" not in short.text


@pytest.mark.parametrize("audience", list(Audience), ids=lambda a: a.value)
def test_the_explanation_names_its_analysis_and_when_it_was_made(audience: Audience) -> None:
    """A pasted explanation traces back to its analysis (s18 R33-F7: it named neither)."""
    fixture = next(f for f in fixtures() if f.proto.HasField("create_time"))
    _, done = _explain(fixture, audience)
    made = f"{fixture.proto.create_time.ToDatetime(tzinfo=dt.UTC):%Y-%m-%d}"
    assert f"(analysis {fixture.proto.analysis_id}, made {made})." in done.text, done.text
