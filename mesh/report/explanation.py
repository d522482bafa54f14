"""The grounded explanation at the top of the page, each citation a link to what it cites."""

from __future__ import annotations

import re
from collections.abc import Mapping

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import llm_pb2 as llm_pb

from mesh.report._format import esc, prose
from mesh.report._page import Section


def fact_anchors(analysis: causal_pb.Analysis, figures: Mapping[str, str]) -> dict[str, str]:
    """Where on the page each citable fact is: headline numbers, check rows, channels; the key
    "" is where a fact with no place of its own goes."""
    which = analysis.WhichOneof("result")
    if which == "products":  # cells to the heat map, products and pairs to their tables
        return {"": "products", "cells": "products", "product_cells": "product-cells",
                "products": "product-cells", "pairs": "cross-effects"}  # fmt: skip
    if which != "estimate":  # channels[…] facts go to their rows (see _anchor)
        return {"": "health", "strategy": "identification"}
    anchors = {
        "point_estimate": "fact-point_estimate", "estimate": "fact-point_estimate",
        "ci_lower": "fact-interval", "ci_upper": "fact-interval", "lower": "fact-interval",
        "upper": "fact-interval", "alpha": "fact-interval", "level": "fact-interval",
        "p_value": "fact-p_value", "n": "fact-n", "n_treated": "fact-n", "n_control": "fact-n",
        "summary": "verdict", "supported": "verdict", "method": "identification",
        "strategy": "identification", "assumptions": "identification", "": "summary",
    }  # fmt: skip
    if "estimate" in figures:
        anchors["naive_estimate"] = figures["estimate"]
    for i, c in enumerate(analysis.estimate.checks):
        kind = causal_pb.CheckKind.Name(c.kind).removeprefix("CHECK_KIND_").lower()
        anchors.setdefault(f"check:{kind}", f"check-{i}")
    return anchors


_CHANNEL = re.compile(r"channels\[([^\]]+)\]")


def resolution_word(resolution: llm_pb.ClaimResolution.ValueType) -> str:
    """What the guardrail did with a claim the evidence did not support, in one word ("removed",
    "rewritten"); "flagged" where it left the claim in place or the value is newer than us. The
    CLI prints the same word, so the report and the terminal never disagree."""
    if resolution == llm_pb.CLAIM_RESOLUTION_UNSPECIFIED:
        return "flagged"
    try:
        return llm_pb.ClaimResolution.Name(resolution).removeprefix("CLAIM_RESOLUTION_").lower()
    except ValueError:
        return "flagged"


_NAME = re.compile(r"[a-z_]+(?::[a-z_]+)?(?:\.[a-z_]+)*")


def _anchor(fact: str, anchors: Mapping[str, str]) -> str:
    """The element a fact lives in: a channel row, a headline number, a check row, or — for a
    derived figure ("derived:abs(point_estimate)") — the first named fact it derives from."""
    if fact in anchors:
        return anchors[fact]
    channel = _CHANNEL.search(fact)
    if channel:
        return f"channel-{channel.group(1)}"
    for name in _NAME.findall(fact.removeprefix("derived:")):
        for key in (name, name.split(".")[0]):
            if key in anchors:
                return anchors[key]
    return anchors[""]


# The terms an attribution page uses without defining them (R6-F15), in one line.
GLOSSARY = {
    "attribution": (
        "Terms: incremental = the outcome as run less the model's outcome with that channel "
        "off, over the analysis window; iROAS = incremental revenue per unit of spend; mROAS = "
        "the return of the next unit of spend; Share = a channel's part of every channel's "
        "incremental outcome summed (not of total revenue); holdout = the last days held back "
        "to test the fit, scored by R² (share of their variation predicted), MAPE (mean "
        "absolute percentage error) and NRMSE (root-mean-square error over their range); "
        "calibration MAPE = the model's error against the lift tests."
    ),
    "products": (
        "Terms: incremental = what a channel's spend on a category caused over the period, net "
        "of halo and cannibalisation inside it; iROAS = incremental revenue per unit of spend; "
        "mROAS = the revenue of the next unit of spend; halo / cannibalisation = promoting one "
        "product raised / cut a sibling's revenue."
    ),
}


def glossary(kind: str, outcome: str = "revenue") -> str:
    """The page's terms for its kind of analysis; on a conversions attribution iROAS is a count
    per unit of spend, not revenue (R20-F1: the page said "incremental revenue per unit of
    spend" above a table of conversions)."""
    text = GLOSSARY.get(kind, "")
    if kind == "attribution" and outcome == "conversions":
        text = text.replace(
            "iROAS = incremental revenue per unit of spend",
            "iROAS = incremental conversions per unit of spend (a count, not money: whether a "
            "channel pays for itself needs the value of one conversion)",
        ).replace("(not of total revenue)", "(not of total conversions)")
    return text


def explanation_section(
    done: llm_pb.ExplanationDone, anchors: Mapping[str, str], kind: str = "",
    outcome: str = "revenue",
) -> Section:  # fmt: skip
    """The text with every cited span linked to its figure or number (spans are code points);
    ``outcome`` names an attribution's outcome, for its glossary."""
    text, cites = done.text, sorted(done.citations, key=lambda c: (c.start, -c.end))
    parts, at = [], 0
    for c in cites:
        if c.start < at or not 0 <= c.start < c.end <= len(text):
            continue  # overlapping or out-of-range spans stay plain text
        parts.append(prose(text[at : c.start]))
        target = _anchor(c.fact, anchors)
        parts.append(
            f'<a class="cite" href="#{esc(target)}" title="{esc(c.fact)}">{prose(text[c.start : c.end])}</a>'
        )
        at = c.end
    parts.append(prose(text[at:]))
    body = "<p>" + "".join(parts).replace("\n\n", "</p><p>") + "</p>"
    who = (
        "LiftOS's grounded writer"
        if done.writer != llm_pb.EXPLANATION_WRITER_LLM
        else f"an LLM ({esc(done.model)}), checked claim by claim"
    )
    notes = ""
    if done.unsupported_claims:
        # Name each claim and what was done with it: a count alone hid which figure the reader
        # was spared (R10-F9; the CLI names them).
        items = "".join(
            f"<li>{resolution_word(c.resolution)}: “{prose(c.claim)}” ({prose(c.reason)})</li>"
            for c in done.unsupported_claims
        )
        notes = (f'<p class="note">{len(done.unsupported_claims)} claim(s) the evidence did not '
                 f'support were removed or rewritten:</p><ul class="note">{items}</ul>')  # fmt: skip
    terms = (
        f'<p class="note glossary">{esc(glossary(kind, outcome))}</p>' if kind in GLOSSARY else ""
    )
    return Section(
        "explanation", "In plain words",
        f'<div class="explanation">{body}<p class="note">Written by {who}; every linked phrase '
        f"goes to the number or figure it rests on.</p>{notes}{terms}</div>",
    )  # fmt: skip
