"""Finding causal claims in text, and reading what each one asserts.

A claim is a clause that says something *caused* a change ("Meta retargeting drove a 12%
lift", "email caused…", "increasing TikTok spend will raise revenue by…") or caused none ("X
had no effect", "X did not work"). An (i)ROAS figure ("Meta's iROAS was 3.5") and a
counterfactual loss ("cutting X would lose 4.3M", "without X, revenue would have been 12%
lower") are claims too: each says what the channel caused. A clause is not a claim when it
only reports an association ("correlated with", "associated with", "moved with"), a
platform's own figure ("Meta reported…"), or is
hedged ("may have", "suggests", "we could not detect an effect"), or qualifies the figures (a
caveat, the model's assumption) without giving a named cause a size: those say nothing the
evidence would have to back.

Lexicon-based on purpose: the rules are readable, deterministic and fast (the guardrail runs
on every sentence a backend writes), and the labelled set in ``bench/data`` measures them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from llm_svc.claims.names import Named, names_in, whole_names, without_names
from llm_svc.claims.sentences import Span, clauses, sentences
from llm_svc.numbers import Quantity, QuantityKind, quantities

__all__ = ["Bound", "Claim", "ClaimKind", "Mode", "classify", "extract_claims"]


class Mode(enum.StrEnum):
    """What a clause does with causality."""

    CAUSAL = "causal"
    ASSOCIATIONAL = "associational"
    HEDGED = "hedged"
    NONE = "none"  # no causal or associational language at all


class ClaimKind(enum.StrEnum):
    EFFECT = "effect"  # caused a change (possibly with a size)
    NO_EFFECT = "no_effect"  # caused no change


class Bound(enum.StrEnum):
    POINT = "point"  # "by 12%", "about 12%"
    AT_LEAST = "at_least"  # "more than 10%"
    AT_MOST = "at_most"  # "up to 20%"


@dataclass(frozen=True, slots=True)
class Claim:
    """One causal claim: where it is, about what, which way and how much."""

    text: str
    start: int
    end: int
    kind: ClaimKind
    direction: int | None  # +1 up, -1 down, None not said
    subject_text: str  # the words naming the cause, as written ("" when implicit)
    outcome_word: str  # the outcome named ("revenue", "orders"; "" when none)
    magnitude: Quantity | None
    interval: Quantity | None  # an interval the claim quotes for itself ("95% CI 4 to 20")
    bound: Bound = Bound.POINT
    roas: bool = False  # the size is a return on spend
    share: bool = False  # the size is a share of the incremental outcome ("24% of the lift")
    interval_level: float | None = None  # the level a quoted interval names ("95% CI" → 0.95)
    # a return on the *next* unit of spend ("marginal ROAS", "mROAS", "at the margin"), which
    # an attribution reports apart from the average (incremental) ROAS
    marginal: bool = False
    # +1 "X is profitable / pays for itself", -1 "X lost money": a return on spend against
    # break-even (1), with no size of its own
    breakeven: int = 0
    # +1 / -1: the clause is about raising / cutting the cause's spend by part ("by 30%",
    # "doubling", "halving"), not switching it off; 0 otherwise. ``spend_amount`` is the part
    # (a percentage, a multiple of current spend, or an amount), None when it is not said.
    spend_change: int = 0
    spend_amount: Quantity | None = None
    # the period a rate names ("per day", "every week", "daily", "annually"), in days, and as
    # written ("day", "week"): a size per period, not over the analysis's window
    period: str = ""
    period_days: float | None = None
    # the size is a return on spend written as a percentage ("a 208% iROAS"), read as 2.08
    percent_roas: bool = False


def _words(*items: str) -> str:
    return r"\b(?:" + "|".join(items) + r")\b"


_ASSOCIATION = re.compile(
    _words(
        r"correlat\w*", r"associat\w*", r"co-?moved?", r"moved? (?:together )?with",
        r"moves with", r"coincid\w*", r"tracked", r"tracks", r"went together", r"in tandem",
        r"relationship between", r"linked (?:to|with)", r"in the same (?:weeks|days|period)",
        r"naive regression", r"not (?:a )?causal", r"no identification",
    ),
    re.IGNORECASE,
)  # fmt: skip
# Someone else's figure, reported as theirs: not a claim this text makes.
_ATTRIBUTED = re.compile(
    _words(
        r"(?:platform[- ])?reported", r"reports", r"according to", r"claims?", r"claimed",
        r"attributed (?:by|in) (?:the )?\w+", r"per (?:the )?(?:platform|dashboard)",
        r"(?:in|on) (?:the |its |their )?(?:dashboard|ads manager)",
    ),
    re.IGNORECASE,
)  # fmt: skip
_HEDGE = re.compile(
    _words(
        r"may", r"might", r"could", r"possibly", r"perhaps", r"suggests?", r"suggesting",
        r"appears?", r"seems?", r"likely", r"unlikely", r"unclear", r"uncertain",
        r"not (?:be )?clear", r"can(?:no|')t (?:tell|say|rule out|conclude)", r"cannot",
        r"could not detect", r"couldn't detect", r"(?:did|do|does) not detect", r"no detectable",
        r"not detectable", r"undetectable", r"inconclusive", r"not (?:statistically )?significant",
        r"not supported", r"unsupported", r"no (?:clear |reliable |causal |credible )?evidence",
        r"not evidence", r"not (?:yet )?established", r"indicative", r"whether",
        r"would need", r"to test", r"hypothes\w+", r"consistent with", r"not (?:be )?read as",
        r"should not be (?:read|taken|used)", r"tentative\w*", r"too (?:noisy|uncertain)",
        r"we (?:think|believe|expect)", r"potentially", r"estimate suggests",
        # recommendations say what to do, not what happened
        r"next steps?", r"to (?:measure|estimate|test|confirm|detect|learn)", r"recommend\w*",
        r"should (?:run|test|measure)", r"plan with",
        # a product analysis's word for an interval that includes zero
        r"(?:not |in)distinguishable from zero",
    ),
    re.IGNORECASE,
)  # fmt: skip
_NO_EFFECT = re.compile(
    r"\b(?:ha[sd]|have|having|with|shows?|showed) (?:had )?(?:no|zero|nil) (?:\w+ ){0,2}?"
    r"(?:effect|impact|lift|influence|incremental \w+|difference)"
    r"|\b(?:did(?:n't| not)|does(?:n't| not)|do(?:n't| not)|has(?:n't| not)|had(?:n't| not)|was(?:n't| not)|were(?:n't| not)|never) "
    r"(?:\w+ ){0,2}?(?:affect|change|move|drive|impact|increase|raise|lift|boost|cause|contribute|help|improve|reduce|decrease|hurt|add)\w*"
    # "Klaviyo SMS did not work": the plain words for no effect
    r"|\b(?:did(?:n't| not)|does(?:n't| not)|do(?:n't| not)|has(?:n't| not)|have(?:n't| not)|never) "
    r"(?:really |actually )?work(?:ed|s)?\b"
    r"|\bmade (?:no|zero) difference|\bdoes nothing|\bdid nothing|\bnot incremental"
    # a bare "no effect" claims one only where it is the statement ("There was no lift"),
    # not inside another ("…to include no effect")
    r"|(?:^\W*|\bthere (?:was|is|were) )(?:no|zero) (?:measurable |real |significant )?"
    r"(?:effect|impact|lift|incremental)",
    re.IGNORECASE,
)
_UP = _words(
    r"increas\w*", r"rais\w*", r"rose", r"boost\w*", r"lift\w*", r"uplift", r"gr[eo]w\w*",
    r"growth", r"generat\w*", r"added", r"adds?", r"improv\w*", r"higher", r"more",
    r"deliver\w*", r"produc\w*", r"brought in", r"brings? in", r"drove up", r"pushed up",
    r"gain\w*", r"incremental", r"return\w*", r"doubl\w*", r"tripl\w*", r"contribut\w*",
    r"work(?:ed|s)?",
)  # fmt: skip
_DOWN = _words(
    r"decreas\w*", r"reduc\w*", r"lower\w*", r"cut", r"cuts", r"hurt\w*", r"declin\w*",
    r"drop\w*", r"fell", r"fall\w*", r"less", r"cannibali[sz]\w*", r"depress\w*",
    r"drove down", r"pushed down", r"dampen\w*", r"shrank", r"shrunk", r"loss", r"halved",
    r"negative", r"los(?:e|es|ing|t)", r"(?:will|would) cost",
)  # fmt: skip
_CAUSE = re.compile(
    _words(
        r"(?<!-)caus(?:e|es|ed|ing)", r"dr[io]ve[ns]?", r"driving", r"led to", r"leads? to", r"resulted in",
        r"results? in", r"responsible for", r"effect", r"effects", r"impact\w*",
        r"attributable to", r"due to", r"because of", r"thanks to", r"as a result of",
        r"incremental", r"lift\w*", r"uplift", r"increas\w*", r"rais\w*", r"boost\w*",
        r"generat\w*", r"deliver\w*", r"produc\w*", r"brought in", r"brings? in", r"added",
        r"adds?", r"improv\w*", r"contribut\w*", r"decreas\w*", r"reduc\w*", r"lower(?:ed|s)",
        r"cut", r"cuts", r"hurt\w*", r"cannibali[sz]\w*", r"depress\w*", r"dampen\w*",
        r"grew", r"grow", r"grows", r"doubled", r"tripled", r"halved", r"(?:will|would) (?:\w+ )?(?:raise|increase|lift|add|grow|boost|reduce|lower|cut|drive|hurt|decrease)",
        r"made \w+ (?:grow|rise|fall)", r"pushed (?:up|down)", r"return(?:ed|s)? (?:\$|€|£)?\d",
        # a counterfactual loss: "cutting X would lose 4.3M", "without X, revenue would have
        # been 12% lower"
        r"(?:will|would) (?:\w+ )?(?:lose|cost|forgo|sacrifice)",
        r"would (?:have )?be(?:en)?\b.{0,40}?\b(?:lower|higher|less|more|smaller|larger)",
        # "it worked", "X did work": an effect in plain words (not "worked with", "worked on")
        r"(?:did )?work(?:ed|s)?(?= *(?:well\b|[.!]?$))",
    ),
    re.IGNORECASE,
)  # fmt: skip
_ROAS = re.compile(
    r"\b[im]?-?roas\b|\breturn on (?:ad )?spend\b|\bper (?:dollar|euro|pound|\$|€|£)(?: spent)?\b"
    r"|\breturn(?:ed|s)? \$?\d|\bfor every (?:dollar|\$)",
    re.IGNORECASE,
)
# The return on the next unit of spend: "marginal ROAS", "mROAS", "at the margin", "the next
# dollar" (never a profit margin: "at the margin" says where on the curve, not what is earned)
_MARGINAL = re.compile(
    r"\bm-?roas\b|\bmarginal (?:roas|returns?|return on (?:ad )?spend)\b|\bat the margin\b"
    r"|\b(?:the next|each additional|an additional|every additional|one more|each extra|"
    r"an extra|the last) (?:(?:dollar|euro|pound|unit of spend)\b|[$€£](?!\s?\d))",
    re.IGNORECASE,
)
_AT_THE_MARGIN = re.compile(r"\bat the margin\b", re.IGNORECASE)
# Profitability in plain words: a return on spend above (or below) break-even. The negative
# forms are tried first ("not profitable" holds "profitable").
_LOSS = re.compile(
    r"\b(?:un|not |never |isn't |wasn't |aren't |weren't )profitable\b|\blos(?:e|es|ing|t) money\b"
    r"|\b(?:does|did|do|has|have)(?:n't| not) (?:\w+ )?(?:pay|paid) (?:for )?(?:itself|themselves|back|off)\b"
    r"|\breturn(?:s|ed)? less than (?:it|they|its spend|their spend) costs?\b|\bmoney-losing\b"
    r"|\bbelow break-?even\b",
    re.IGNORECASE,
)
_PROFIT = re.compile(
    r"\bprofitable\b|\bpa(?:ys?|id|ying) (?:for )?(?:itself|themselves)\b|\bpa(?:ys?|id) (?:back|off)\b"
    r"|\breturn(?:s|ed)? more than (?:it|they|its spend|their spend) costs?\b|\bma(?:kes?|de) money\b"
    r"|\babove break-?even\b",
    re.IGNORECASE,
)
_AT_LEAST = re.compile(
    r"\b(?:more than|over|above|at least|exceed\w*|upwards of|north of|>)\s*$", re.IGNORECASE
)
_AT_MOST = re.compile(
    r"\b(?:up to|less than|under|at most|below|no more than|<)\s*$", re.IGNORECASE
)
# Quantities that are not a claim's size: confidence levels, p-values, counts, dates.
_NOT_SIZE_BEFORE = re.compile(
    r"(?:\bp\s*[=<>≤]\s*|\bn\s*=\s*|\bR²?\s*=\s*|\bweek\s*|\bday\s*|\bQ|\bstd\.? error\s*(?:of\s*)?)$",
    re.IGNORECASE,
)
_NOT_SIZE_AFTER = re.compile(
    r"^\s*(?:CI\b|confidence|credible|interval|level|significance|days?\b|weeks?\b|months?\b|"
    r"years?\b|units?\b|regions?\b|geos?\b|states?\b|observations\b|campaigns\b|channels\b)",
    re.IGNORECASE,
)
_INTERVAL_CUE = re.compile(
    r"(?:\bCI|interval|confidence|credible|uncertainty|range)\s*(?:of|from|is|was)?\s*:?,?\s*$",
    re.IGNORECASE,
)
_OUTCOMES = {
    "revenue": ("revenue", "sales", "turnover", "income"),
    "orders": ("orders", "purchases", "transactions", "conversions"),
    "conversions": ("conversions", "orders", "purchases"),
    "clicks": ("clicks",),
    "signups": ("signups", "sign-ups", "registrations"),
    "installs": ("installs",),
    "sessions": ("sessions", "traffic", "visits"),
    "leads": ("leads",),
    "profit": ("profit", "margin"),
}
# every word that names an outcome, whichever outcome
OUTCOME_WORDS = frozenset(w for words in _OUTCOMES.values() for w in words)
_OUTCOME_WORD = re.compile(
    r"\b(revenue|sales|turnover|income|orders|purchases|transactions|conversions|clicks|"
    r"sign-?ups|registrations|installs|sessions|traffic|visits|leads|profit|margin)\b",
    re.IGNORECASE,
)


def outcome_synonyms(outcome: str) -> tuple[str, ...]:
    """Words that name the same outcome as the column ``outcome`` ("revenue" → "sales"…)."""
    key = outcome.lower()
    for name, words in _OUTCOMES.items():
        if name in key or key in words:
            return (name, *words)
    return (key,)


# Diagnostics describe the analysis (its checks, assumptions, estimand), not the world.
_DIAGNOSTIC = re.compile(
    _words(
        r"placebo", r"refut\w*", r"re-?estimated", r"pre-?trends?", r"balance", r"overlap",
        r"sensitivity", r"assum\w*", r"estimand", r"standard error", r"statistic", r"checks?",
        r"test (?:passed|failed)", r"tests (?:passed|failed)", r"raised a warning", r"SUTVA",
        r"exchangeab\w*", r"instrument strength", r"first stage", r"bandwidth", r"bias\w*",
        r"caveat", r"coefficients?", r"confounders?", r"E-values?", r"risk ratio",
        r"confidence interval", r"robustness value", r"residual variance", r"significan\w*",
    ),
    re.IGNORECASE,
)  # fmt: skip


_STRONG = re.compile(
    _words(
        r"caus(?:e|es|ed|ing)",
        r"drove",
        r"drives",
        r"led to",
        r"resulted in",
        r"lift(?:ed|s)",
        r"increased",
        r"raised",
        r"boosted",
        r"generated",
        r"delivered",
        r"reduced",
        r"decreased",
        r"hurt",
        r"grew",
    ),
    re.IGNORECASE,
)
_WARNED = re.compile(r"\braised (?:a )?warnings?\b", re.IGNORECASE)


def classify(text: str) -> Mode:
    """What a clause does with causality: a claim, an association, a hedge, or nothing."""
    if _DIAGNOSTIC.search(text) and not _STRONG.search(_WARNED.sub(" ", text)):
        return Mode.NONE
    has_cause = (
        bool(_CAUSE.search(text))
        or bool(_NO_EFFECT.search(text))
        # an (i)ROAS figure is a return the channel caused: "Meta's iROAS was 3.5"
        or bool(_ROAS.search(text) and re.search(r"\d", text))
        # "X is profitable", "X lost money": a return on spend against break-even
        or bool(_LOSS.search(text) or _PROFIT.search(text))
    )
    if _HEDGE.search(text):
        return Mode.HEDGED
    if _ATTRIBUTED.search(text):
        return Mode.ASSOCIATIONAL
    if _ASSOCIATION.search(text):
        strong = re.search(
            r"\b(?:caus(?:e|es|ed|ing)|drove|led to|resulted in)\b", text, re.IGNORECASE
        )
        return Mode.CAUSAL if strong and has_cause else Mode.ASSOCIATIONAL
    return Mode.CAUSAL if has_cause else Mode.NONE


_INTERVENTION = re.compile(
    r"\b(?P<verb>increas\w*|rais\w*|doubl\w*|boost\w*|scal\w* up|adding|add|more|"
    r"cut\w*|reduc\w*|lower\w*|paus\w*|stop\w*|turn\w* off|remov\w*|halv\w*|less)\s+"
    r"(?:\w+\s+){0,3}?(?:spend\w*|budgets?|investment|bids?|campaigns?)\b",
    re.IGNORECASE,
)
_CUT = re.compile(
    r"^(?:cut|reduc|lower|paus|stop|turn|remov|halv|less|switch|drop|halt|without)", re.IGNORECASE
)
# "Pausing Google Search will…": an intervention on the cause itself, no "spend" needed.
_STOP_CAUSE = re.compile(
    r"^\s*(?:if (?:we|you|they) )?(?P<verb>paus\w*|stop\w*|turn\w* off|switch\w* off|remov\w*|"
    r"halt\w*|drop\w*|cutting|cut|without)\b",
    re.IGNORECASE,
)


def _direction(text: str, size: Quantity | None) -> int | None:
    """+1 / -1: which way the claim says the outcome moved with the cause (an intervention
    that cuts spend flips it: "cutting TikTok spend will lower revenue" claims a positive
    effect of TikTok)."""
    flip = 1
    m = _INTERVENTION.search(text) or _STOP_CAUSE.search(text)
    if m:
        flip = -1 if _CUT.match(m.group("verb")) else 1
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    down = [d.start() for d in re.finditer(_DOWN, text, re.IGNORECASE)]
    up = [u.start() for u in re.finditer(_UP, text, re.IGNORECASE)]
    if size is not None and size.value < 0:
        found: int | None = -1
    elif down and (not up or min(down) < min(up)):
        found = -1
    elif up or (size is not None and size.value > 0):
        found = +1
    else:
        found = None
    return None if found is None else found * flip


@dataclass(frozen=True, slots=True)
class _Sizes:
    size: Quantity | None = None
    interval: Quantity | None = None
    bound: Bound = Bound.POINT
    level: float | None = None  # of the quoted interval, where the clause names one
    share: bool = False  # the size is a share of the incremental outcome


_LEVEL_AFTER = re.compile(r"^\s*(?:CI\b|confidence|credible|interval)", re.IGNORECASE)
# "23.8% of incremental revenue", "a fifth of the lift": a share of what the channels caused
_SHARE_AFTER = re.compile(
    r"^\s*of\s+(?:the\s+|all\s+|our\s+|its\s+|their\s+|total\s+|measured\s+)*"
    r"(?:incremental|lift|uplift|media[- ]driven|attributed|attributable)\b",
    re.IGNORECASE,
)
_SHARE_WORD = re.compile(r"\b(?:share|contribution)\b", re.IGNORECASE)


def _sizes(text: str, skip: Quantity | None = None) -> _Sizes:
    """Size, quoted interval (and its level), bound of a clause, and whether the size is a share
    of the incremental outcome; confidence levels, p-values, counts and ``skip`` (the part by
    which the clause changes spend: "raising spend by 30%") are not sizes."""
    size: Quantity | None = None
    interval: Quantity | None = None
    bound = Bound.POINT
    level: float | None = None
    share = False
    for q in quantities(text):
        if skip is not None and q.start == skip.start and q.end == skip.end:
            continue
        before, after = text[: q.start], text[q.end :]
        if q.kind is QuantityKind.PERCENT and not q.is_range and _LEVEL_AFTER.match(after):
            if 0.5 <= q.value < 1 and level is None:
                level = q.value
            continue
        if _NOT_SIZE_BEFORE.search(before) or _NOT_SIZE_AFTER.match(after):
            continue
        if q.is_range and (size is not None or _INTERVAL_CUE.search(before)):
            if interval is None:
                interval = q
            continue
        if size is None:
            size = q
            share = q.kind is QuantityKind.PERCENT and (
                bool(_SHARE_AFTER.match(after)) or bool(_SHARE_WORD.search(text))
            )
            if _AT_LEAST.search(before):
                bound = Bound.AT_LEAST
            elif _AT_MOST.search(before):
                bound = Bound.AT_MOST
    return _Sizes(size, interval, bound, level if interval is not None else None, share)


# A rate's period: "per day", "a week", "every month", "/yr", "daily", "annually".
_PERIODS = {"day": 1.0, "week": 7.0, "month": 365 / 12, "quarter": 365 / 4, "year": 365.0}
_PERIOD = re.compile(
    r"\b(?:per|a|an|each|every)\s+(?P<unit>day|week|month|quarter|year)\b"
    r"|/\s?(?P<short>day|d|wk|week|mo|month|qtr|quarter|yr|year)\b"
    r"|\b(?P<adj>daily|weekly|monthly|quarterly|yearly|annual(?:ly|i[sz]ed)?)\b",
    re.IGNORECASE,
)
_SHORT = {"d": "day", "wk": "week", "mo": "month", "qtr": "quarter", "yr": "year"}
_ADJECTIVES = {"dai": "day", "wee": "week", "mon": "month", "qua": "quarter", "yea": "year",
               "ann": "year"}  # fmt: skip


def _period(text: str, size: Quantity | None) -> str:
    """The period the claim's size is a rate over ("day", "week", …), or "" when it is none:
    a period written just after the size ("55,273 USD of revenue per day") or an adjective
    before it ("increased daily revenue by 55,273"), with no other figure between them ("4.2M
    over the window, about 35k a day": the 4.2M is no rate)."""
    if size is None:
        return ""
    starts = [q.start for q in quantities(text)]
    for m in _PERIOD.finditer(text):
        if m.start() >= size.end:
            between = text[size.end : m.start()]
            if len(between.split()) > 5 or any(size.end <= q < m.start() for q in starts):
                continue
        elif not (m.group("adj") and m.end() <= size.start) or any(
            m.end() <= q < size.start for q in starts
        ):
            continue
        if m.group("unit"):
            return m.group("unit").lower()
        if m.group("short"):
            short = m.group("short").lower()
            return _SHORT.get(short, short)
        return _ADJECTIVES[m.group("adj").lower()[:3]]
    return ""


def _claim(span: Span, subject: str) -> Claim | None:
    text = span.text
    if classify(text) is not Mode.CAUSAL:
        return None
    change, amount, at = _spend_change(text)
    found = _sizes(text, skip=amount)
    if change and found.size is not None and found.size.start < at:
        # "X drove 4.1M, so double its budget": the change is advice after the claim, not
        # the intervention the claim's size is about
        change, amount = 0, None
        found = _sizes(text)
    size, interval, bound = found.size, found.interval, found.bound
    marginal = bool(_MARGINAL.search(text))
    # "at the margin" says where on the response curve, not a profit margin
    outcome = _OUTCOME_WORD.search(_AT_THE_MARGIN.sub(" ", text))
    kind = ClaimKind.NO_EFFECT if _NO_EFFECT.search(text) else ClaimKind.EFFECT
    direction = None if kind is ClaimKind.NO_EFFECT else _direction(text, size)
    breakeven = -1 if _LOSS.search(text) else 1 if _PROFIT.search(text) else 0
    roas = (
        bool(_ROAS.search(text))
        or marginal
        or (size is not None and size.kind is QuantityKind.MULTIPLE and "roas" in text.lower())
        or (breakeven != 0 and size is None)
    )
    period = _period(text, size)
    percent_roas = roas and size is not None and _is_percent_roas(text, size)
    if percent_roas and size is not None:
        # "a 500% iROAS", "ROAS of 208%": a return of 5.00 / 2.08 per unit of spend (as Google
        # Ads states its targets), already a fraction of one
        size = replace(size, kind=QuantityKind.MULTIPLE)
    if breakeven and size is None:
        direction = None  # a side of break-even, not a direction of the outcome
    if size is not None and size.kind is QuantityKind.MULTIPLE and not roas and size.value >= 1:
        # "doubled revenue" / "3x the sales": a relative change of (multiple - 1)
        size = Quantity(
            size.value - 1, QuantityKind.PERCENT, size.start, size.end, size.tolerance,
            ambiguous=None if size.ambiguous is None else size.ambiguous - 1,
        )  # fmt: skip
    return Claim(
        text=text,
        start=span.start,
        end=span.end,
        kind=kind,
        direction=direction,
        subject_text=subject,
        outcome_word=outcome.group(1).lower() if outcome else "",
        magnitude=size,
        interval=interval,
        bound=bound,
        roas=roas,
        share=found.share and not roas,
        interval_level=found.level,
        marginal=marginal,
        breakeven=breakeven if size is None else 0,
        spend_change=change,
        spend_amount=amount,
        period=period,
        period_days=_PERIODS[period] if period else None,
        percent_roas=percent_roas,
    )


# what may stand between a ROAS word and its figure: "ROAS of 208%", "iROAS was 402%", "208% iROAS"
_ROAS_TO_SIZE = re.compile(
    r"^[\s:=]*(?:(?:of|was|is|were|at|came in at|stood at|reached|hit|around|about|roughly|"
    r"approximately|nearly|an?|a whole)\s+)*$",
    re.IGNORECASE,
)
_SIZE_TO_ROAS = re.compile(r"^\s*(?:incremental\s+|average\s+)?$", re.IGNORECASE)


def _is_percent_roas(text: str, size: Quantity) -> bool:
    """A percentage that is the return on spend itself, written next to its name ("a 208%
    iROAS", "an incremental ROAS of 500%"), not a change in it ("ROAS rose by 20%")."""
    if size.kind is not QuantityKind.PERCENT:
        return False
    for m in _ROAS.finditer(text):
        if m.end() <= size.start and _ROAS_TO_SIZE.match(text[m.end() : size.start]):
            return True
        if m.start() >= size.end and _SIZE_TO_ROAS.match(text[size.end : m.start()]):
            return True
    return False


# Verbs that switch the cause off (its whole effect), not change its spend by part.
_OFF = re.compile(r"^(?:paus|stop|turn|switch|remov|halt|drop|without)", re.IGNORECASE)
# What stands between the intervention and the part it changes spend by: "… spend by", "…
# google search by"; a consequence ("would", "will") between them makes the figure the effect.
_BY = re.compile(
    r"^(?:\s+(?!(?:would|will|could|should|and|to|then)\b)[\w'’.-]+){0,5}?\s+by\s+"
    r"(?:about\s+|around\s+|roughly\s+|some\s+|another\s+|a further\s+|an extra\s+)?$",
    re.IGNORECASE,
)
_IN_HALF = re.compile(r"^(?:\s+[\w'’.-]+){0,5}?\s+in half\b", re.IGNORECASE)


def _spend_change(text: str) -> tuple[int, Quantity | None, int]:
    """(+1 raise / -1 cut / 0, the part): a clause that changes its cause's spend by part
    ("raising PMax spend by 30%", "cutting Google search by 30%", "doubling the budget"). A
    cut, pause or removal with no part stays a switch-off (0: the channel's whole effect, as
    "cutting TikTok would lose 2M" reads); a raise with no part is a change of unsaid size.
    The third item is where the intervention starts."""
    m = _INTERVENTION.search(text) or _STOP_CAUSE.search(text)
    if m is None:
        return 0, None, 0
    verb = m.group("verb").lower()
    if _OFF.match(verb):
        return 0, None, 0
    sign = -1 if _CUT.match(verb) else 1
    at = m.start("verb")
    if verb.startswith("doubl"):
        return 1, Quantity(2.0, QuantityKind.MULTIPLE, at, m.end("verb"), 0.0), at
    if verb.startswith("halv") or (sign < 0 and _IN_HALF.match(text[m.end("verb") :])):
        return -1, Quantity(0.5, QuantityKind.MULTIPLE, at, m.end("verb"), 0.0), at
    for q in quantities(text):
        if q.start >= m.end("verb") and _BY.match(text[m.end("verb") : q.start]):
            if q.value <= 0 or q.is_range:
                break
            if sign < 0 and q.kind is QuantityKind.PERCENT and q.value >= 1:
                return 0, None, at  # "cut by 100%": switched off
            return sign, q, at
    return (1, None, at) if sign > 0 else (0, None, at)


def extract_claims(text: str, subjects: Sequence[re.Pattern[str]] = ()) -> list[Claim]:
    """Every causal claim in ``text``, one per clause that makes one.

    ``subjects`` are patterns for the causes the evidence knows (treatments, channels); the
    words a clause uses for its cause are recorded so the judge can match them. A clause
    that names no cause inherits the previous clause's in the same sentence ("Meta drove a
    lift in revenue, and it raised orders too"), or stands for the evidence's only cause
    when it says "it" or "the campaign"; a clause with no cause at all ("random reassignment
    produces effects this large") claims nothing about one.
    """
    out: list[Claim] = []
    for sentence in sentences(text, whole_names(text, subjects)):
        previous: str | None = None
        qualifies = bool(_QUALIFICATION.match(sentence.text))
        for clause in clauses(sentence, whole_names(sentence.text, subjects)):
            spans = _names(clause.text, subjects)
            named = " ".join(n.word for n in spans)
            subject = named or previous
            if subject is None and _implicit_cause(clause.text):
                subject = ""  # "it", "the campaign": the one cause the evidence has, if one
            if subject is not None:
                claim = _claim(without_names(clause, spans), subject)
                if claim is not None and not (qualifies and not _sized_and_named(claim, named)):
                    out.append(replace(claim, text=clause.text))
            previous = subject
    return out


# A statement of an assumption or a caveat qualifies the figures ("Caveat: …", "It rests on
# this assumption: … and add to baseline demand", "Warning: its effect and interval rest on
# that"): its words of cause and effect describe the model or the data, not an effect claimed
# (R20-F3). Only a clause in it that names a cause and gives that cause a size is a claim.
_QUALIFICATION = re.compile(
    r"^\W*(?:(?:one|another|a|an|the|main|key|important|big|first|second|last|final|other)\s+)*"
    r"(?:caveats?|warnings?|notes?|assumptions?|limitations?)(?:\s+on\s+[^:]{1,80})?\s*(?::|\bis\b|\bare\b)"
    r"|^\W*(?:it|this|the (?:model|analysis|estimate))\s+(?:rests?|relies|depends)\s+on\s+"
    r"(?:this|these|the|an?)\s+(?:\w+\s+)?assumptions?\b"
    r"|^\W*(?:it|this|the (?:model|analysis)|we)\s+assumes?\b|^\W*assuming\b",
    re.IGNORECASE,
)


def _sized_and_named(claim: Claim, named: str) -> bool:
    return bool(named) and (claim.magnitude is not None or claim.interval is not None)


# Words that stand for a cause without naming it: a claim needs a cause, named or implied.
_IMPLICIT = re.compile(
    r"\b(?:it|this|that|they|these|those|its)\b(?! (?:is|was) (?:a |the )?(?:correlation|estimate))"
    r"|\b(?:the|this|that|our|these|those|new) (?:\w+ )?(?:campaigns?|channels?|tests?|treatment|"
    r"programs?|programmes?|promotions?|ads|advertising|spend|media|initiative|launch|holdout)\b"
    r"|\b(?:advertising|marketing|treatment)\b",
    re.IGNORECASE,
)


_CHANNEL_WORDS = re.compile(
    _words(
        r"meta", r"facebook", r"fb", r"instagram", r"google(?: ads)?", r"adwords", r"search",
        r"youtube", r"tiktok", r"email", r"klaviyo", r"sms", r"snapchat", r"pinterest",
        r"linkedin", r"twitter", r"x ads", r"tv", r"radio", r"display", r"affiliates?",
        r"retargeting", r"prospecting", r"programmatic", r"podcasts?", r"influencers?", r"ooh",
        r"direct mail", r"bing", r"amazon(?: ads)?", r"reddit", r"social", r"paid social",
    ),
    re.IGNORECASE,
)  # fmt: skip


def _implicit_cause(text: str) -> bool:
    """A word standing for the cause, where a cause stands: before the causal verb ("It drove
    …") or after "because of" / "thanks to" / "from" ("… thanks to the campaign")."""
    verb = _CAUSE.search(text)
    for m in _IMPLICIT.finditer(text):
        if verb is None or m.start() < verb.start():
            return True
        if re.search(
            r"(?:because of|thanks to|due to|from|of|by)\s+$", text[: m.start()], re.IGNORECASE
        ):
            return True
    return False


def is_qualification(text: str) -> bool:
    """Whether a sentence states an assumption or a caveat ("Caveat: …", "It rests on this
    assumption: …"): it qualifies the figures, and claims only where it sizes a named cause."""
    return bool(_QUALIFICATION.match(text))


def subject_words(text: str, subjects: Sequence[re.Pattern[str]]) -> str:
    """The words of ``text`` that name causes (a question's, for the grounded writer)."""
    return _subject(text, subjects)


def _subject(text: str, subjects: Sequence[re.Pattern[str]]) -> str:
    """Every word in the clause that names a cause, in order ("Facebook … prospecting")."""
    return " ".join(n.word for n in _names(text, subjects))


def _names(text: str, subjects: Sequence[re.Pattern[str]]) -> list[Named]:
    return names_in(text, [*subjects, _CHANNEL_WORDS], reads=_reads, claims=_makes_claim)


# what the claim reader reads in a clause: a name holding one of these reads as a claim
_READ = (_CAUSE, _NO_EFFECT, _OUTCOME_WORD, _ROAS, _LOSS, _PROFIT, _HEDGE, _ASSOCIATION,
         _ATTRIBUTED, _DIAGNOSTIC, _MARGINAL, _PERIOD, re.compile(f"{_UP}|{_DOWN}", re.I))  # fmt: skip


def _reads(text: str) -> bool:
    return any(r.search(text) for r in _READ) or bool(quantities(text))


def _makes_claim(text: str) -> bool:
    return any(r.search(text) for r in (_CAUSE, _NO_EFFECT, _ROAS, _LOSS, _PROFIT))
