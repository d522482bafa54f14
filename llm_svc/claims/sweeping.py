"""Claims with no causal verb, named cause and size that still say what the analyses decide
(audit R23-F1): a quantifier over the channels ("every channel is established", "all
channels drove revenue", "none of the channels worked"), a ranking or comparison between
channels ("our best channel", "12 times better than TikTok"), a forecast ("revenue will grow
40% next quarter") and a statement about the analysis's own certainty ("there are no
caveats", "these results are certain").

Each is judged against the effects where the analyses decide it (every effect's state, the
ordering of the intervals); otherwise it is UNSUPPORTED, never passed as if checked: these are
the sentences a model steered by injected text, or a hallucinating one, most plausibly writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llm_svc.claims.extract import Claim, ClaimKind, is_qualification
from llm_svc.claims.judge import Judgement, causes_named, subject_patterns
from llm_svc.claims.sentences import Span, sentences
from llm_svc.claims.verdict import Verdict
from llm_svc.evidence import Analysis, Effect, Metric
from llm_svc.numbers import fmt
from llm_svc.vocabulary import listing

__all__ = ["combined", "sweeping_judgements"]

_NOUN = r"(?:channels?|campaigns?|media|sources|platforms|tactics|investments)"
# "every channel", "all five channels", "each of our campaigns", "all of the media"
_ALL = re.compile(
    rf"(?<!\bof )(?<!\bfor )(?<!\bin )(?<!\bto )(?<!\bacross )"
    rf"\b(?:every|all|each)\b(?:\s+(?:of\s+)?(?:the|our|your|these|its|their|\w+))?\s+{_NOUN}\b"
    rf"|\b{_NOUN}\s+all\b",
    re.IGNORECASE,
)
_NONE = re.compile(
    rf"\b(?:none\s+of\s+(?:the|our|your|these)\s+{_NOUN}"
    r"|no\s+(?:single\s+)?(?:channel|campaign|source|platform|tactic)s?\b"
    r"|neither\s+channel)",
    re.IGNORECASE,
)
# what a quantified sentence says of its channels: each one caused something / is established
_WORKED = re.compile(
    r"\b(?:established|drove|drives|driven|drive|worked|works|contributed|contributes|"
    r"increased|raised|lifted|grew|boosted|generated|delivered|paid off|pays? for itself|"
    r"profitable|effective|caused|causes|added|adds|"
    r"performed|performs|succeeded|help(?:ed|s)?|moved|moves)\b",
    re.IGNORECASE,
)
_RANKED = r"(?:\s+\w+)?\s+(?:channel|performer|campaign|driver|investment|source|platform|tactic|roas|iroas|return)s?\b"
_BEST = re.compile(
    r"\b(?:best|top|strongest|most (?:effective|efficient|profitable|incremental|valuable)|"
    rf"largest|biggest|highest|greatest|leading|number one|#1){_RANKED}|\bbest-performing\b",
    re.IGNORECASE,
)
_WORST = re.compile(
    r"\b(?:worst|weakest|least (?:effective|efficient|profitable|incremental|valuable)|"
    rf"smallest|lowest){_RANKED}|\bworst-performing\b",
    re.IGNORECASE,
)
# "better than", "outperformed", "3 times more than", "beats"
_THAN = re.compile(
    r"\b(?:better|more|larger|bigger|higher|greater|stronger|more effective|more efficient)"
    r"\s+than\b|\bout-?perform(?:s|ed|ing)?\b|\bbeat(?:s|ing)?\b",
    re.IGNORECASE,
)
_TIMES = re.compile(r"(\d+(?:\.\d+)?)\s*(?:x|×|times)(?!\w)", re.IGNORECASE)
_FUTURE = re.compile(
    r"\b(?:will|shall|is going to|are going to|is set to|are set to|is expected to|"
    r"are expected to|is projected to|are projected to|is forecast to|are forecast to)\s+"
    r"(?:\w+\s+){0,2}?(?:grow|rise|increase|fall|drop|decline|reach|hit|double|triple|"
    r"climb|add|generate|deliver|be|exceed|jump|continue)\b"
    r"|\bnext\s+(?:week|month|quarter|year|season|period)\b|\bforecast(?:s|ed)?\b",
    re.IGNORECASE,
)
_NO_CAVEATS = re.compile(
    r"\bno\s+(?:caveats?|warnings?|limitations?|uncertainty|doubts?|risks?|concerns?)\b"
    r"|\bwithout\s+(?:any\s+)?(?:caveats?|uncertainty|doubt)\b"
    r"|\b(?:fully|completely|definitively|conclusively|100%)\s+(?:established|proven|certain|"
    r"reliable|confirmed)\b"
    r"|\b(?:results?|findings?|figures?|estimates?|numbers?|effects?)\s+(?:are|is)\s+"
    r"(?:certain|guaranteed|proven|definitive|exact|beyond doubt)\b",
    re.IGNORECASE,
)
_ROAS_WORD = re.compile(r"\b(?:i?roas|returns?|return on (?:ad )?spend|efficient)\b", re.I)


def _claim(span: Span) -> Claim:
    return Claim(span.text, span.start, span.end, ClaimKind.EFFECT, None, "", "", None, None)


def _ids(effects: Sequence[Effect]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(e.analysis_id for e in effects))


def _judgement(span: Span, verdict: Verdict, reason: str, effects: Sequence[Effect]) -> Judgement:
    return Judgement(_claim(span), verdict, reason, _ids(effects))


def _channels(effects: Sequence[Effect], metric: Metric = Metric.OUTCOME) -> list[Effect]:
    """One effect per cause in ``metric``, the causes a quantifier ranges over."""
    by_cause: dict[str, Effect] = {}
    for e in effects:
        if e.metric is metric and e.role is None:
            by_cause.setdefault(e.treatment, e)
    return list(by_cause.values())


def _says_worked(text: str, m: re.Match[str] | None) -> bool:
    """Whether the few words after a quantifier say what its channels did ("every channel
    is established", "all five channels drove revenue"), not what is done with each one
    ("plan each category campaign at the lower end")."""
    return m is not None and bool(_WORKED.search(" ".join(text[m.end() :].split()[:5])))


def _quantified(span: Span, shape: str, effects: Sequence[Effect]) -> Judgement | None:
    every = _ALL.search(shape)
    none = None if every else _NONE.search(shape)
    if not _says_worked(shape, every or none):
        return None
    channels = _channels(effects)
    if not channels:
        return _judgement(span, Verdict.UNSUPPORTED, "no analysis here reports channels", ())
    established = [e for e in channels if e.established]
    not_established = [e for e in channels if not e.established]
    if every:
        if not not_established:
            return _judgement(
                span, Verdict.SUPPORTED,
                f"every channel's effect is established ({listing([e.treatment for e in channels])})",
                channels,
            )  # fmt: skip
        return _judgement(
            span, Verdict.CONTRADICTED,
            f"not every channel's effect is established: {_names(not_established)} "
            f"{'has' if len(not_established) == 1 else 'have'} no established effect",
            channels,
        )  # fmt: skip
    if established:
        return _judgement(
            span, Verdict.CONTRADICTED,
            f"the analysis established the effect of {_names(established)}",
            channels,
        )  # fmt: skip
    return _judgement(
        span, Verdict.UNSUPPORTED,
        "no channel's effect is established, but not detecting an effect is not showing "
        "there is none",
        channels,
    )  # fmt: skip


def _names(effects: Sequence[Effect]) -> str:
    names = [e.treatment for e in effects]
    return listing(names[:5] + ([f"{len(names) - 5} more"] if len(names) > 5 else []))


def _named(text: str, effects: Sequence[Effect], metric: Metric) -> list[Effect]:
    channels = _channels(effects, metric)
    named = set(causes_named(text, channels))
    return [e for e in channels if e.treatment in named]


def _ranked(span: Span, shape: str, effects: Sequence[Effect]) -> Judgement | None:
    text = span.text
    found = _BEST.search(shape) or _WORST.search(shape)
    if found is None:
        return None
    best = _BEST.search(shape) is not None
    metric = Metric.ROAS if _ROAS_WORD.search(shape) else Metric.OUTCOME
    named = _named(text[: found.start()], effects, metric) or _named(text, effects, metric)
    if not named:
        return None  # "the best estimate", "our best guess": no channel ranked
    channels = _channels(effects, metric)
    if len(channels) < 2:
        return _judgement(
            span, Verdict.UNSUPPORTED,
            "a ranking the analyses cannot check: they report no other channel to rank "
            f"{named[0].treatment} against",
            channels,
        )  # fmt: skip
    if len(named) != 1:
        return _judgement(
            span, Verdict.UNSUPPORTED,
            f"a ranking CheckClaims cannot read: it names {_names(named)}, not one channel",
            channels,
        )  # fmt: skip
    (e,) = named
    others = [o for o in channels if o.treatment != e.treatment]
    sign = 1 if best else -1
    what = "return on spend" if metric is Metric.ROAS else f"effect on {e.outcome}"

    def above(a: Effect, b: Effect) -> bool:  # a's interval lies wholly past b's
        return a.lower > b.upper if sign > 0 else a.upper < b.lower

    beaten_by = [o for o in others if above(o, e)]
    if beaten_by:
        return Judgement(
            _claim(span), Verdict.CONTRADICTED,
            f"{_names(beaten_by)}'s {what} is {'larger' if sign > 0 else 'smaller'} than "
            f"{e.treatment}'s (their {e.level}% intervals do not overlap: {e.treatment} "
            f"{fmt(e.lower)} to {fmt(e.upper)})",
            _ids([e, *others]), e,
        )  # fmt: skip
    if all(above(e, o) for o in others):
        return Judgement(
            _claim(span), Verdict.SUPPORTED,
            f"{e.treatment}'s {e.level}% interval lies {'above' if sign > 0 else 'below'} "
            "every other channel's",
            _ids([e, *others]), e,
        )  # fmt: skip
    overlap = [o for o in others if not above(e, o)]
    return Judgement(
        _claim(span), Verdict.UNSUPPORTED,
        f"the analyses cannot rank it: {e.treatment}'s {e.level}% interval overlaps "
        f"{_names(overlap)}'s",
        _ids([e, *others]), e,
    )  # fmt: skip


def _compared(span: Span, shape: str, effects: Sequence[Effect]) -> Judgement | None:
    text = span.text
    than = _THAN.search(shape)
    if not than:
        return None
    metric = Metric.ROAS if _ROAS_WORD.search(shape) else Metric.OUTCOME
    before = _named(text[: than.start()], effects, metric)
    after = _named(text[than.end() :], effects, metric)
    channels = _channels(effects, metric)
    if not after:
        return None  # "more than 10%", "returns more than it costs": no channel compared with
    if len(before) != 1 or len(after) != 1 or before[0].treatment == after[0].treatment:
        return _judgement(
            span, Verdict.UNSUPPORTED,
            "a comparison CheckClaims cannot read: name one channel on each side",
            channels,
        )  # fmt: skip
    a, b = before[0], after[0]
    times = _TIMES.search(text)
    ratio = float(times.group(1)) if times else None
    return _compare(span, a, b, ratio, metric)


def _compare(span: Span, a: Effect, b: Effect, ratio: float | None, metric: Metric) -> Judgement:
    ids = _ids([a, b])
    what = "return on spend" if metric is Metric.ROAS else f"effect on {a.outcome}"
    ranges = (
        f"{a.treatment} {fmt(a.lower)} to {fmt(a.upper)}, {b.treatment} {fmt(b.lower)} to "
        f"{fmt(b.upper)} ({a.level}% intervals)"
    )
    if ratio is None:
        if a.lower > b.upper:
            return Judgement(
                _claim(span), Verdict.SUPPORTED, f"the intervals do not overlap: {ranges}", ids, a
            )
        if b.lower > a.upper:
            return Judgement(
                _claim(span), Verdict.CONTRADICTED,
                f"{b.treatment}'s {what} is the larger: {ranges}", ids, a,
            )  # fmt: skip
        return Judgement(
            _claim(span), Verdict.UNSUPPORTED,
            f"the analyses cannot rank them, their intervals overlap: {ranges}", ids, a,
        )  # fmt: skip
    if b.lower <= 0:
        return Judgement(
            _claim(span), Verdict.UNSUPPORTED,
            f"no multiple of {b.treatment}'s {what} can be checked: its interval reaches "
            f"zero ({ranges})",
            ids, a,
        )  # fmt: skip
    low, high = max(a.lower, 0.0) / b.upper, a.upper / b.lower
    if not low <= ratio <= high:
        return Judgement(
            _claim(span), Verdict.CONTRADICTED,
            f"{ratio:g} times is outside what the intervals allow, {low:.2f} to {high:.2f} "
            f"times ({ranges})",
            ids, a,
        )  # fmt: skip
    return Judgement(
        _claim(span), Verdict.UNSUPPORTED,
        f"no analysis reports the ratio; the intervals allow {low:.2f} to {high:.2f} times "
        f"({ranges})",
        ids, a,
    )  # fmt: skip


def _forecast(span: Span, shape: str, effects: Sequence[Effect]) -> Judgement | None:
    if not _FUTURE.search(shape):
        return None
    return _judgement(
        span, Verdict.UNSUPPORTED,
        "a forecast: no analysis here forecasts, and its figures describe the data's own window",
        effects,
    )  # fmt: skip


def _caveats(analyses: Sequence[Analysis]) -> list[str]:
    out: list[str] = []
    for a in analyses:
        out += [f"its {c.name} check failed" for c in a.failed_checks]
        out += [f"its {c.name} check raised a warning" for c in a.warning_checks]
        out += list(a.warnings[:2])
        out += list(a.data_changes)  # its data changed since it was made
        out += [
            f"{e.treatment}'s effect is not established" for e in a.effects if not e.established
        ]
    return list(dict.fromkeys(out))


def _certain(
    span: Span, shape: str, analyses: Sequence[Analysis], effects: Sequence[Effect]
) -> Judgement | None:
    if not _NO_CAVEATS.search(shape):
        return None
    caveats = _caveats(analyses)
    if caveats:
        more = f" ({len(caveats) - 3} more)" if len(caveats) > 3 else ""
        return _judgement(
            span, Verdict.CONTRADICTED,
            f"the analysis has caveats: {'; '.join(caveats[:3])}{more}", effects,
        )  # fmt: skip
    return _judgement(
        span, Verdict.UNSUPPORTED,
        "every figure is an estimate with an interval, resting on the model's assumptions",
        effects,
    )  # fmt: skip


def sweeping_judgements(
    text: str, analyses: Sequence[Analysis], effects: Sequence[Effect], claimed: Sequence[Claim]
) -> list[Judgement]:
    """The verdicts on ``text``'s sentences that make a sweeping claim (one per sentence, the
    first shape that reads it). ``claimed`` are the causal claims read from ``text``: a
    forecast in a sentence that already makes one ("cutting TikTok will lose 2M") is judged
    there, by its own claim."""
    patterns = subject_patterns(effects)
    out: list[Judgement] = []
    for span in sentences(text):
        if is_qualification(span.text):
            continue  # a caveat's "no channel caused" describes the model, not a finding
        # the shapes are read with the names blanked: a product "Coastal Top 2" is no "top"
        shape = span.text
        for p in patterns:
            shape = p.sub(lambda m: "N" * len(m.group(0)), shape)
        has_claim = any(span.start <= c.start < span.end for c in claimed)
        found = (
            _certain(span, shape, analyses, effects)
            or _quantified(span, shape, effects)
            or _compared(span, shape, effects)
            or _ranked(span, shape, effects)
            or (None if has_claim else _forecast(span, shape, effects))
        )
        if found is not None:
            out.append(found)
    return out


def combined(judged: Sequence[Judgement], sweeping: Sequence[Judgement]) -> list[Judgement]:
    """Both lists in text order; a causal claim with no cause of its own inside a sentence a
    sweeping verdict covers ("None of the channels drove revenue" read as an unnamed cause's
    effect) gives way to that verdict, which reads the sentence whole."""
    spans = [(s.claim.start, s.claim.end) for s in sweeping]
    kept = [
        j
        for j in judged
        if j.claim.subject_text or not any(a <= j.claim.start < b for a, b in spans)
    ]
    return sorted([*kept, *sweeping], key=lambda j: j.claim.start)
