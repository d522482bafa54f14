"""An attribution's health verdict for an executive, before its figures (split from
writer.py, which builds its sentences the same way)."""

from __future__ import annotations

from collections.abc import Sequence

from llm_svc.evidence import Analysis, Check
from llm_svc.vocabulary import plain_check, plain_review
from llm_svc.writer import Sentence, _Builder, _checks

_HEALTH_FACT = "derived:health = the worst outcome of the model's checks"


def health(analysis: Analysis) -> list[Sentence]:
    """For an executive, an attribution's health verdict (PASS, REVIEW or FAIL) before its
    figures, and for REVIEW which checks warned and what that means in plain words.

    The verdict is the analysis's statement of its own checks, every part a cited fact or a
    plain reading of one, and no claim about a channel: it goes out as written, like a quote
    (the claim reader took "the holdout and budget response raised warnings" for a claim that
    a one-channel model's channel raised revenue, and the guardrail dropped the one line an
    executive must read: R52-F7). A check's id (a lift test's name) is the client's text, so
    it is named in a sentence of its own that the guardrail reads (V1-F2)."""
    if analysis.kind != "attribution" or not analysis.checks:
        return []
    b = _Builder(analysis.analysis_id).t("model health: ")
    failed, warned = analysis.failed_checks, analysis.warning_checks
    if failed:
        b.f(_HEALTH_FACT, "FAIL").t(": the model failed its ")
        _checks(b, list(failed), ids=False)
        plain = [p for p in dict.fromkeys(plain_check(c.kind) for c in failed) if p]
        if plain:  # what the failure means, as the REVIEW branch says its warnings' (G4's F8)
            b.t(f" ({'; '.join(plain)})")
        return [
            b.t(", so its figures should not be relied on.").build(quotes=True),
            *_ids(analysis, failed, failed=True),
        ]
    if not warned:
        return [
            b.f(_HEALTH_FACT, "PASS").t(": every check of the model passed.").build(quotes=True)
        ]
    b.f(_HEALTH_FACT, "REVIEW").t(": usable, with caveats to read first: the ")
    _checks(b, list(warned), ids=False)
    b.t(" raised a warning" if len(warned) == 1 else " raised warnings")
    plain = [p for p in dict.fromkeys(plain_review(c.kind) for c in warned) if p]
    if plain:
        b.t(f" ({'; '.join(plain)})")
    whose = (  # a paid-budget check qualifies the channels that spend only
        "the figures of the channels that spend"
        if all(c.kind == "budget_response" for c in warned)
        else "the figures below"
    )
    b.t(f", so read {whose} as indicative rather than established.")
    return [b.build(quotes=True), *_ids(analysis, warned, failed=False)]


def _ids(analysis: Analysis, checks: Sequence[Check], *, failed: bool) -> list[Sentence]:
    """The ids of the checks the verdict named by kind (the lift tests a calibration names),
    each set off in quotes as a name, in a sentence the guardrail reads like any other."""
    named = [c for c in checks if c.which]
    if not named:
        return []
    b = _Builder(analysis.analysis_id).t(f"the {named[0].kind_label} of ")
    for i, c in enumerate(named):
        if i:
            b.t(" and " if i == len(named) - 1 else ", ")
        b.f(c.fact, f"“{c.which}”")
    verb = "failed" if failed else "raised a warning" if len(named) == 1 else "raised warnings"
    return [b.t(f" {verb}.").build()]
