"""What `liftos counterfactual` says before its answer: whether the data under the analysis's
window changed since it was made (SurfacingService.CheckAnalysisData).

It answers from the analysis as it was made and reads no history, so after a later pull
restated days of its window it answered from the old numbers without a word, while `predict`
on the same id said the data changed (s18 R33-F1, R37-F2). The check is advice: when it cannot
be made the command still answers, and one line says it was not checked. (`liftos explain`
needs none: the llm service's Explain opens with the same check's lines.)
"""

from __future__ import annotations

import sys
from typing import TextIO

from mesh.runtime.exceptions import InvalidInput
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure


def print_data_check(client: LiftOS, analysis_id: str, *, out: TextIO | None = None) -> None:
    """Print the check's warnings as "warning: …" lines on ``out`` (stdout by default), or,
    when the check fails, one "note: …" line on stderr."""
    try:
        reply = client.check_analysis_data(analysis_id)
    except (RpcFailure, InvalidInput) as failure:
        print(f"note: whether the data under analysis {analysis_id}'s window changed since it "
              f"was made was not checked ({' '.join(str(failure).split())})", file=sys.stderr)  # fmt: skip
        return
    for w in reply.warnings:
        print(f"warning: {w}", file=out or sys.stdout)
