"""Sentences and clauses of a text, with their character spans.

A full stop ends a sentence unless it sits inside a number (``3.78``) or after a common
abbreviation (``e.g.``, ``vs.``); a line break or bullet also ends one. Clauses split a
sentence where one claim ends and another begins ("Meta drove a 12% lift, while email had no
effect"), so each claim is judged on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Span", "clauses", "sentences", "split_complete"]


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    start: int
    end: int


# (German scale abbreviations too: "25 Mio. EUR" is one figure, R34-F6)
_ABBREVIATIONS = ("e.g", "i.e", "vs", "approx", "etc", "cf", "incl", "est", "no", "mr", "ms", "dr",
                  "mio", "mrd", "tsd")  # fmt: skip
# Sentence end: [.!?] (then closing quotes/brackets) followed by whitespace, or a line break.
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n+|(?<=\S)\s*(?=^\s*[-*•]\s)", re.MULTILINE)
_CLAUSE = re.compile(
    r";\s+|,\s+(?:while|whereas|but|although|though|and|so)\s+|\s+(?:while|whereas)\s+",
    re.IGNORECASE,
)


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z.]+)$", text[:dot])
    return bool(word) and word.group(1).lower().rstrip(".") in _ABBREVIATIONS  # type: ignore[union-attr]


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and (text[start].isspace() or text[start] in "-*•"):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(text[start:end], start, end) if end > start else None


def sentences(text: str, keep: Sequence[tuple[int, int]] = ()) -> list[Span]:
    """The sentences of ``text`` with their spans (whitespace and bullets trimmed), never
    ending inside a span of ``keep`` (a cause's name such as "Promo. Sales doubled")."""
    out: list[Span] = []
    start = 0
    for m in _END.finditer(text):
        if m.group().startswith(".") and _is_abbreviation(text, m.start()):
            continue
        if any(a < m.end() and m.start() < b for a, b in keep):
            continue
        span = _trimmed(text, start, m.end())
        if span is not None:
            out.append(span)
        start = m.end()
    last = _trimmed(text, start, len(text))
    if last is not None:
        out.append(last)
    return out


def split_complete(buffer: str) -> tuple[list[str], str]:
    """Complete sentences at the head of a streamed buffer (each with its trailing
    whitespace) and the unfinished rest. A sentence counts as complete once the text after its
    end has begun (the next character is whitespace), so "3." followed by "78" is not split."""
    done: list[str] = []
    start = 0
    for m in _END.finditer(buffer):
        end = m.end()
        if end >= len(buffer):
            break  # the terminator may still grow ("…" or "3." + "78")
        if m.group().startswith(".") and _is_abbreviation(buffer, m.start()):
            continue
        while end < len(buffer) and buffer[end] in " \t":
            end += 1
        done.append(buffer[start:end])
        start = end
    return done, buffer[start:]


def clauses(sentence: Span, keep: Sequence[tuple[int, int]] = ()) -> Iterator[Span]:
    """The clauses of a sentence, split where a second claim can begin, never inside a span
    of ``keep`` (offsets in the sentence: a cause's name such as "Promo; no effect")."""
    start = 0
    text = sentence.text
    for m in _CLAUSE.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in keep):
            continue
        span = _trimmed(text, start, m.start())
        if span is not None:
            yield Span(span.text, sentence.start + span.start, sentence.start + span.end)
        start = m.end()
    span = _trimmed(text, start, len(text))
    if span is not None:
        yield Span(span.text, sentence.start + span.start, sentence.start + span.end)
