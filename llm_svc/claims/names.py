"""Where a clause names its cause, and which of those words the claim reader must not read.

A channel or campaign label is a customer's free text: "Promo - doubled sales", "no effect
test", "50% off", "2x ROAS", "Revenue". Inside a clause, a span that is such a name is the
subject's name, never the claim's size, direction, negation or outcome: the reader reads the
clause with it blanked. Otherwise LiftOS's own headline "Promo - doubled sales increased
revenue by 900,000 USD" reads as a +100% claim and is CONTRADICTED by CheckClaims (s18, T's
note), and the guardrail removes a sentence it should have rewritten.

A name made only of the reader's own words ("Revenue", "conversions", "no effect", "did not
increase") is also plain prose ("Meta increased revenue", "TikTok had no effect"). Such a
name is taken as the name only where a cause stands: followed by the words that make the
claim ("No effect increased revenue", "Revenue's incremental ROAS is 2.25"), or after "thanks
to", "because of", "due to", "from" or "by". Elsewhere it is prose: neither the subject's
name nor blanked.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llm_svc.claims.sentences import Span

__all__ = ["WHOLE", "Named", "names_in", "whole_names", "without_names"]

# the group a subject pattern puts around a cause's whole name (judge.subject_patterns); a
# pattern without it finds one word of a name, a synonym or a platform word
WHOLE = "whole"
_CAUSE_BEFORE = re.compile(r"(?:because of|thanks to|due to|from|by)\s+$", re.IGNORECASE)
# words that carry no name of their own: with the reader's words gone, a name of only these
# is prose ("did not increase", "no effect")
_SMALL = re.compile(
    r"\b(?:a|an|the|no|not|did|does|do|has|had|have|was|were|is|are|any|all|on|of|by|in|to|"
    r"for|with|and|or|its|our|their|it)\b|\W+",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Named:
    """One span a clause names a cause with."""

    start: int
    end: int
    word: str  # as written
    blank: bool  # a whole name the reader must not read (its digits, verbs, outcome words)


def names_in(
    text: str,
    patterns: Sequence[re.Pattern[str]],
    *,
    reads: Callable[[str], bool],
    claims: Callable[[str], bool],
) -> list[Named]:
    """The spans of ``text`` that name causes, in order, disjoint (the earliest pattern wins:
    longest names first). ``reads(s)``: the claim reader would read something in ``s`` (a
    figure, a causal or negating word, an outcome); ``claims(s)``: ``s`` has the words that
    make a claim (a causal verb, "no effect", a return on spend)."""
    found: list[Named] = []
    # the spans taken so far, disjoint and sorted by start: an overlap test is two
    # neighbours (a scan of every span was quadratic: 7 s on 20,000 characters of "Meta ")
    starts: list[int] = []
    ends: list[int] = []
    for pattern in patterns:
        whole = WHOLE in pattern.groupindex
        for m in pattern.finditer(text):
            a, b = m.span()
            i = bisect.bisect_right(starts, a)
            if (i and ends[i - 1] > a) or (i < len(starts) and starts[i] < b):
                continue
            # taken either way: a prose "no effect" is not then read as the name "effect"
            starts.insert(i, a)
            ends.insert(i, b)
            word = m.group(0)
            digits = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
            read = whole and not digits and reads(word)
            if (
                read
                and _prose(word, reads)
                and not (claims(text[b:]) or _CAUSE_BEFORE.search(text[:a]))
            ):
                continue
            found.append(Named(a, b, word, digits or read))
    return sorted(found, key=lambda n: n.start)


def _prose(name: str, reads: Callable[[str], bool]) -> bool:
    """Whether ``name`` is made only of words the reader reads and small words."""
    return not _SMALL.sub("", " ".join(w for w in name.split() if not reads(w)))


def without_names(clause: Span, spans: Sequence[Named]) -> Span:
    """The clause with the names the reader must not read blanked out: "Trail Boot 2"'s
    digit, "Promo - doubled sales"' "doubled", a channel named "Revenue" or "no effect" where
    it stands as the cause. Only a span with a letter in it is a name: a bare number is the
    claim's own figure, whatever it spells."""
    text = clause.text
    for n in spans:
        if n.blank:
            text = text[: n.start] + " " * (n.end - n.start) + text[n.end :]
    return Span(text, clause.start, clause.end) if text != clause.text else clause


def whole_names(text: str, patterns: Sequence[re.Pattern[str]]) -> list[tuple[int, int]]:
    """Where ``text`` holds a cause's whole name: a clause never ends inside one ("Promo; no
    effect", "Promo, but sales doubled" are one channel's label)."""
    return [m.span() for p in patterns if WHOLE in p.groupindex for m in p.finditer(text)]
