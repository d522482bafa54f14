"""The call metadata that asks RecordExperimentResult to keep a result already recorded.

RecordExperimentResultRequest has no field for it yet (proposal: ``bool keep_existing``, see
/work/notes/s16/K_notes.md), and "keep unless told to replace" must be decided by the
registry in the same statement that writes, not by a client that read the experiment
minutes earlier (audit R24-F1). Until the field exists the condition travels as metadata:
the CLI sets it on EstimateEffect, causal forwards it to RecordExperimentResult.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["KEEP_RESULT", "keeps_result"]

# gRPC metadata (key, value): record only if the experiment has no result yet.
KEEP_RESULT = ("liftos-keep-result", "1")


def keeps_result(metadata: Iterable[tuple[str, str | bytes]] | None) -> bool:
    """Whether a call's metadata asks to keep a result already recorded."""
    return any(
        key == KEEP_RESULT[0] and value in (KEEP_RESULT[1], KEEP_RESULT[1].encode())
        for key, value in metadata or ()
    )
