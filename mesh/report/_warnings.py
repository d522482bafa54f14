"""Which channels the analysis's warnings name, and the marks that point a row at them."""

from __future__ import annotations

import re

from liftos.v1 import causal_pb2 as causal_pb

from mesh.report._format import prose


def names_channel(text: str, channel: str) -> bool:
    """Whether ``text`` names ``channel`` as a whole token: "meta" is not named by
    "meta_retargeting" or "meta-retargeting", but is by "meta's" or "meta." at a sentence end.
    The warnings are plain text (no structured channel field), so the identifier is matched."""
    return re.search(rf"(?<![\w-]){re.escape(channel)}(?![\w-])", text) is not None


def channel_warnings(result: causal_pb.AttributionResult) -> dict[str, list[int]]:
    """Each channel a warning of the analysis names, with those warnings' numbers (from 1, as
    the health section lists them). R6-F7: a "Healthy" page whose warnings say a channel's
    estimate rests on a misread showed that channel's figures unmarked."""
    out = {
        c.channel: [i for i, w in enumerate(result.warnings, start=1) if names_channel(w, c.channel)]
        for c in result.channels
    }  # fmt: skip
    return {ch: nums for ch, nums in out.items() if nums}


def warning_mark(nums: list[int], channel: str = "") -> str:
    """The marker of a cell whose figures warnings qualify: "⚠ see warning 2", each number a
    link to that warning; ``channel`` names the channel where the cell is about several."""
    if not nums:
        return ""
    links = ", ".join(f'<a href="#warning-{i}">{i}</a>' for i in nums)
    whose = f" ({prose(channel)})" if channel else ""
    many = "s" if len(nums) > 1 else ""
    return f'<span class="ci warn-ref">⚠ see warning{many} {links}{whose}</span>'


def warned_line(refs: dict[str, list[int]]) -> str:
    """Under the verdict: which channels' figures a warning qualifies, so "Healthy" is not read
    as "nothing to qualify"."""
    if not refs:
        return ""
    named = "; ".join(
        f"{prose(ch)} (warning{'s' if len(n) > 1 else ''} {', '.join(map(str, n))})"
        for ch, n in refs.items()
    )
    return (f"<p>Warnings below qualify the figures of {named}: their rows in the tables are "
            "marked ⚠; read those figures with the warning.</p>")  # fmt: skip
