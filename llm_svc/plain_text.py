"""An LLM's reply as plain text (audit R23-F4).

The reply is untrusted: a misconfigured or hostile endpoint, or a model steered by injected
text, can answer with terminal control sequences (an OSC 8 hyperlink to another site, an OSC 52
clipboard write, concealed text, a bare carriage return that erases the line printed), and
``liftos explain`` writes the text to a terminal. :class:`ControlFilter` drops every escape
sequence (with its payload) and every C0/C1 control but newline and tab, holding back a
sequence a streamed chunk cuts in two; the guardrail then reads, and the caller gets, what a
reader sees ("\x1b[1m" bold around a right claim no longer makes it unreadable).
"""

from __future__ import annotations

import re

__all__ = ["ControlFilter"]

# complete sequences: OSC (ESC ] … BEL/ST), DCS/SOS/PM/APC (ESC P|X|^|_ … ST), CSI (ESC [ …
# final byte), a two-character escape, and the 8-bit CSI/OSC forms
_SEQUENCE = re.compile(
    r"\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)"
    r"|\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]*[0-OQ-WYZ\\`a-~]"  # not [ ] P X ^ _, which open the longer ones above
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
)
# a sequence begun at the end of the text and not yet ended (the next chunk may end it)
_UNFINISHED = re.compile(
    r"(?:\x1b[\]PX^_][^\x07\x1b\x9c]*\x1b?|\x1b\[[0-?]*[ -/]*|\x1b[ -/]*|\x9b[0-?]*[ -/]*"
    r"|\x9d[^\x07\x1b\x9c]*\x1b?)\Z"
)
# C0 and C1 controls but tab and newline; the bidi embeddings, overrides and isolates, which
# reorder what a terminal shows
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# the longest sequence held back for its end: past it, the text is no sequence a terminal runs
_HOLD_MAX = 4096


class ControlFilter:
    """Streams text through, without control characters or escape sequences."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        """The clean text of everything fed so far that no later chunk can change."""
        text = _SEQUENCE.sub("", self._held + chunk)
        m = _UNFINISHED.search(text)
        self._held = ""
        if m is not None and len(text) - m.start() <= _HOLD_MAX:
            text, self._held = text[: m.start()], text[m.start() :]
        return _CONTROLS.sub("", text)

    def end(self) -> str:
        """What is left at the end of the stream; a sequence never ended is dropped whole."""
        text = _UNFINISHED.sub("", _SEQUENCE.sub("", self._held))
        self._held = ""
        return _CONTROLS.sub("", text)
