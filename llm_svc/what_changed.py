"""What changed since another analysis: Explain's answer when the question names one by id.

"What changed since last week's analysis an-…?" is answered from the comparison of the two
stored attribution analyses (``mesh.runtime.analysis_compare``, the figures ``liftos compare``
prints): the two windows and record counts, the days both windows hold whose outcome was
restated (how many, which, by how much in total), and per channel the spend, incremental
outcome and iROAS each analysis reported, with whether each estimate lies inside the other's
interval (``ChannelChange.moved``, the rule ``liftos compare`` prints): a move with each estimate
inside the other's interval is not a change the analyses can tell apart, and is worded so. Two
intervals that merely overlap say nothing where both start at 0 (R42-F3, s19 V2-F4).

Every figure is cited to the analysis it comes from (one citation per analysis where a figure
is derived from both, as the restated total is), and every sentence goes through the guardrail
as the grounded writer's do. The sentences report what each analysis reported ("as … reported
it"): a figure of last week's analysis is not a claim about the world this week, so the
claim checker leaves it to the analysis it names instead of judging it against the newer one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llm_svc.claims.judge import causes_named
from llm_svc.errors import InvalidRequest
from llm_svc.evidence import Analysis, Audience, Effect
from llm_svc.numbers import fmt
from llm_svc.vocabulary import capitalised, label, listing
from llm_svc.writer import Cite, Sentence
from mesh.runtime.analysis_compare import ChannelChange, Comparison, day_runs, outcome_unit

__all__ = ["ANALYSIS_ID", "HEALTH", "MAX_NAMED", "Change", "named_analyses", "verdict", "write"]

# An analysis id as the causal service makes them (causal_svc.analyses): "an-" + 20 hex digits,
# standing alone (not inside a longer token).
ANALYSIS_ID = re.compile(r"(?<![\w-])an-[0-9a-f]{20}(?![\w-])")
MAX_NAMED = 10  # other analyses one question may name
_MAX_RUNS = 4
RESTATED_DAYS = (
    "derived:restated_days = the days of daily.dates both analyses hold whose "
    "daily.actual_outcome differs"
)
RESTATED_CHANGE = (
    "derived:restated_change = sum of daily.actual_outcome over the restated days, the later "
    "analysis less the earlier"
)


def named_analyses(question: str, own: str) -> tuple[str, ...]:
    """The analysis ids a question names other than ``own``, in order, each once."""
    ids = tuple(dict.fromkeys(m.group() for m in ANALYSIS_ID.finditer(question)))
    ids = tuple(i for i in ids if i != own)
    if len(ids) > MAX_NAMED:
        raise InvalidRequest(
            f"question names {len(ids)} other analyses; at most {MAX_NAMED}", field="question"
        )
    return ids


@dataclass(frozen=True, slots=True)
class Change:
    """Two analyses compared: ``comparison.first`` is ``earlier`` (made first), ``.second`` is
    ``later``; one of them is the analysis being explained."""

    earlier: Analysis
    later: Analysis
    comparison: Comparison

    @property
    def ids(self) -> tuple[str, str]:
        return self.earlier.analysis_id, self.later.analysis_id


class _Text:
    """A sentence's text, each figure cited to the analyses (one or both) it comes from."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._cites: list[Cite] = []
        self._len = 0

    def t(self, text: str) -> _Text:
        self._parts.append(text)
        self._len += len(text)
        return self

    def f(self, text: str, *facts: tuple[str, str]) -> _Text:
        """``text`` backed by each ``(analysis_id, fact)``."""
        self._cites += [Cite(a, fact, self._len, self._len + len(text)) for a, fact in facts]
        return self.t(text)

    def build(self) -> Sentence:
        return Sentence(capitalised("".join(self._parts)), tuple(self._cites))


def _lead(changes: Sequence[Change], own: str, channels: Sequence[str]) -> Sentence:
    named = [i for c in changes for i in c.ids if i != own]
    b = _Text().t(f"the question names {'analysis' if len(named) == 1 else 'analyses'} ")
    for i, other in enumerate(named):
        if i:
            b.t(" and " if i == len(named) - 1 else ", ")
        b.f(other, (other, "analysis_id"))
    b.t(f": what changed between {'it' if len(named) == 1 else 'each'} and this analysis (")
    b.f(own, (own, "analysis_id")).t(") follows")
    if channels:
        b.t(f" for {listing([label(n) for n in channels])}")
    return b.t(
        ", from the figures of the analyses only (the LLM writer answers the question itself)."
    ).build()


def _windows(c: Change) -> Sentence:
    w1, w2 = c.comparison.first, c.comparison.second
    a, b = c.ids
    t = _Text()
    if (w1.start, w1.end, w1.days, w1.record_count) == (w2.start, w2.end, w2.days, w2.record_count):
        t.t("analyses ").f(a, (a, "analysis_id")).t(" (the earlier) and ").f(b, (b, "analysis_id"))
        t.t(" (the later) both read ").f(
            f"{w1.record_count:,}", (a, "record_count"), (b, "record_count")
        )
        t.t(" records over the same ").f(str(w1.days), (a, "day_count"), (b, "day_count"))
        t.t(" days, ").f(w1.start, (a, "window.start"), (b, "window.start")).t(" to ")
        return t.f(w1.end, (a, "window.end"), (b, "window.end")).t(".").build()
    for i, (w, aid) in enumerate(((w1, a), (w2, b))):
        t.t("; analysis " if i else "analysis ").f(aid, (aid, "analysis_id"))
        t.t(" (the later) read " if i else " (the earlier) read ").f(
            f"{w.record_count:,}", (aid, "record_count")
        ).t(" records over ")
        t.f(str(w.days), (aid, "day_count")).t(" days, ").f(w.start, (aid, "window.start"))
        t.t(" to ").f(w.end, (aid, "window.end"))
    return t.t(".").build()


def _restated(c: Change) -> Sentence:
    cmp = c.comparison
    a, b = c.ids
    both = ((a, "daily.dates"), (b, "daily.dates"))
    t = _Text()
    if cmp.mismatch:
        # R10-F12: a conversions analysis beside a revenue one is no restatement
        (oa, ob), (ca, cb) = cmp.outcomes, cmp.currencies
        t.t("the two are not comparable: ").f(a, (a, "analysis_id"))
        t.t(" models ").f(outcome_unit(oa, ca), (a, "outcome")).t(" and ").f(b, (b, "analysis_id"))
        t.t(" models ").f(outcome_unit(ob, cb), (b, "outcome"))
        return t.t(
            ", so their totals, days, incremental outcomes and iROAS are in different units: "
            "none of them is compared, no day is called restated and no channel is called "
            "changed; only the spends are set side by side."
        ).build()
    if cmp.overlap is None:
        return t.t(
            f"the two windows share no day, so no day's {cmp.outcome} can be compared."
        ).build()
    if not cmp.restated:
        t.t("every day both windows hold (").f(cmp.overlap[0], *both).t(" to ")
        return t.f(cmp.overlap[1], *both).t(f") read the same {cmp.outcome} in both.").build()
    n = len(cmp.restated)
    t.t("of the days both windows hold (").f(cmp.overlap[0], *both).t(" to ")
    t.f(cmp.overlap[1], *both).t("), ").f(str(n), (a, RESTATED_DAYS), (b, RESTATED_DAYS))
    t.t(f" {'day' if n == 1 else 'days'} read another {cmp.outcome} in ").f(b, (b, "analysis_id"))
    t.t(" than in ").f(a, (a, "analysis_id")).t(" (restated or late rows): ")
    runs = day_runs([d.date for d in cmp.restated])
    for i, (first, last) in enumerate(runs[:_MAX_RUNS]):
        t.t(", " if i else "").f(first, *both)
        if last != first:
            t.t(" to ").f(last, *both)
    if len(runs) > _MAX_RUNS:
        more = "derived:restated_runs = runs of consecutive restated days"
        t.t(" and ").f(str(len(runs) - _MAX_RUNS), (a, more), (b, more)).t(" more runs")
    delta = sum(d.second - d.first for d in cmp.restated)
    t.t(f"; on {'it' if n == 1 else 'them'} the {cmp.outcome} of ").f(b, (b, "analysis_id"))
    t.t(" is ").f(fmt(abs(delta)), (a, RESTATED_CHANGE), (b, RESTATED_CHANGE))
    return t.t(f" {'higher' if delta >= 0 else 'lower'} in total.").build()


HEALTH = "derived:health = the worst outcome of the model's checks"  # as the writer cites it


def verdict(a: Analysis) -> str:
    """An attribution's health verdict from its checks."""
    return "FAIL" if a.failed_checks else "REVIEW" if a.warning_checks else "PASS"


def _health(c: Change) -> Sentence | None:
    """Each model's health, where one is not PASS: a move between a figure to rely on and one
    to read as indicative (or not at all) is read so."""
    pair = [a for a in (c.earlier, c.later) if a.checks]
    verdicts = [verdict(a) for a in pair]
    if len(pair) < 2 or verdicts == ["PASS", "PASS"]:
        return None
    t = _Text().t("model health: ")
    for i, (a, v) in enumerate(zip(pair, verdicts, strict=True)):
        t.t(", " if i else "").f(v, (a.analysis_id, HEALTH))
        t.t(" in the later" if i else " in the earlier")
    meaning = []
    if "REVIEW" in verdicts:
        meaning.append("a figure of a model under REVIEW is indicative rather than established")
    if "FAIL" in verdicts:
        meaning.append("a FAIL model's figures should not be relied on")
    return t.t(f"; {' and '.join(meaning)}.").build()


def _effect(analysis: Analysis, prefix: str) -> Effect | None:
    return next((e for e in analysis.effects if e.prefix == prefix), None)


def _figure(
    t: _Text, analysis: Analysis, prefix: str, triple: tuple[float, float, float] | None
) -> None:
    """``12,345 (90% CI 1,000 to 30,000)``, each figure cited; "no figure" when not reported."""
    if triple is None:
        t.t("no figure")
        return
    aid = analysis.analysis_id
    t.f(fmt(triple[0]), (aid, prefix + "estimate")).t(" (")
    e = _effect(analysis, prefix)
    if e is not None:  # the level the domain read (an interval without one is read at 95%)
        t.f(f"{e.level}%", (aid, prefix + "level")).t(" ")
    t.t("CI ").f(fmt(triple[1]), (aid, prefix + "lower")).t(" to ")
    t.f(fmt(triple[2]), (aid, prefix + "upper")).t(")")


def _measure(c: Change, ch: ChannelChange) -> str:
    """What the verdict is about: the iROAS where both have one (``ChannelChange.judged``)."""
    return "iROAS" if ch.judged == "iROAS" else f"incremental {c.comparison.outcome}"


# ``ChannelChange.moved`` in words; the comparison's first analysis (A) is the earlier.
MOVES: dict[str, str] = {
    "within": "each {m} estimate of {name} lies inside the other analysis's interval, so the "
    "move is not a change the analyses can tell apart",
    "beyond A": "the later {m} estimate of {name} lies beyond the earlier analysis's interval: "
    "a change the analyses tell apart",
    "beyond B": "the earlier {m} estimate of {name} lies beyond the later analysis's interval: "
    "a change the analyses tell apart",
    "beyond both": "each {m} estimate of {name} lies beyond the other analysis's interval: a "
    "change the analyses tell apart",
}


def _channel(c: Change, ch: ChannelChange) -> list[Sentence]:
    a, b = c.ids
    name = label(ch.channel)
    t = _Text().t(f"{name}, earlier then later, as each analysis reported it: ")
    sa, sb = ch.spend
    sep = ""
    if sa is not None and sb is not None and (sa or sb):  # email on sends has no spend
        fact = f"channels[{ch.channel}].spend.amount"
        if fmt(sa) == fmt(sb):
            t.t("spend ").f(fmt(sa), (a, fact), (b, fact)).t(" in both")
        else:
            t.t("spend ").f(fmt(sa), (a, fact)).t(" then ").f(fmt(sb), (b, fact))
        sep = ", "
    if c.comparison.mismatch:  # figures in other units are not set side by side as a move
        return [t.t(".").build()] if sep else []
    for what, field, pair in (
        (f"incremental {c.comparison.outcome}", "incremental_outcome", ch.incremental),
        ("iROAS", "incremental_roas", ch.iroas),
    ):
        if pair[0] is None and pair[1] is None:
            continue
        prefix = f"channels[{ch.channel}].{field}."
        t.t(f"{sep}{what} ")
        sep = ", "
        _figure(t, c.earlier, prefix, pair[0])
        t.t(" then ")
        _figure(t, c.later, prefix, pair[1])
    out = [t.t(".").build()]
    if ch.moved is None:
        said = (
            f"{name} has figures in one of the two analyses only, so there is no move to compare."
        )
    else:
        said = MOVES[ch.moved].format(m=_measure(c, ch), name=name) + "."
    out.append(_Text().t(said).build())
    return out


def _within(channels: Sequence[ChannelChange]) -> Sentence:
    """For an executive: the channels whose moves the analyses cannot tell apart, at once."""
    names = listing([label(ch.channel) for ch in channels])
    return (
        _Text()
        .t(
            f"for {names}, each analysis's estimate lies inside the other's interval, so their "
            "moves are not changes the analyses can tell apart."
        )
        .build()
    )


def write(
    changes: Sequence[Change], own: str, audience: Audience, question: str = ""
) -> list[Sentence]:
    """What changed between each named analysis and ``own``, sentence by sentence: windows,
    restated days, then the channels (those the question names, where it names any); an
    executive reads the channels whose moves the analyses cannot tell apart in one sentence."""
    effects = [e for c in changes for a in (c.earlier, c.later) for e in a.effects]
    named = causes_named(question, effects)
    out = [_lead(changes, own, named)]
    for c in changes:
        out += [s for s in (_windows(c), _health(c), _restated(c)) if s is not None]
        channels = [ch for ch in c.comparison.channels if not named or ch.channel in named]
        quiet = (
            [ch for ch in channels if ch.told_apart is False]
            if audience is Audience.EXECUTIVE
            else []
        )
        if c.comparison.mismatch and audience is Audience.EXECUTIVE:
            continue  # nothing of the channels is comparable but their spends
        for ch in channels:
            if ch not in quiet:
                out += _channel(c, ch)
        if quiet:
            out.append(_within(quiet))
    return out
