"""LLM test helpers: the simulator analyses fixture, and hand-made analyses with exact figures."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format
from liftos.v1 import causal_pb2 as causal_pb

from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Analysis, Check, CheckOutcome, Effect, Identification

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Fixture:
    scenario: str
    method: str
    seed: int
    true_effect: float
    proto: causal_pb.Analysis

    @property
    def analysis(self) -> Analysis:
        return analysis_from_proto(self.proto)

    @property
    def name(self) -> str:
        return f"{self.scenario}-{self.method}-{self.seed}"


@functools.cache
def fixtures() -> tuple[Fixture, ...]:
    """Simulator analyses of every method (bench/llm_fixtures.py writes them)."""
    out = []
    for line in (DATA / "analyses.jsonl").read_text().splitlines():
        row = json.loads(line)
        proto = json_format.ParseDict(row["analysis"], causal_pb.Analysis())
        out.append(Fixture(row["scenario"], row["method"], row["seed"], row["true_effect"], proto))
    return tuple(out)


def effect_analysis(
    analysis_id: str = "an-meta",
    treatment: str = "meta_retargeting",
    *,
    point: float = 12.0,
    lower: float = 4.0,
    upper: float = 20.0,
    baseline: float | None = 100.0,
    supported: bool = True,
    identification: Identification = Identification.RANDOMIZED,
    checks: tuple[Check, ...] = (
        Check("Placebo treatment", "placebo_treatment", CheckOutcome.PASSED),
    ),
    outcome: str = "revenue",
    p_value: float = 0.003,
) -> Analysis:
    """An effect estimate with exact, round figures."""
    failed = tuple(c.label for c in checks if c.outcome is CheckOutcome.FAILED)
    warned = tuple(c.label for c in checks if c.outcome is CheckOutcome.WARNING)
    effect = Effect(
        analysis_id, treatment, outcome, point, lower, upper, p_value=p_value,
        supported=supported and not failed, causal=identification is not Identification.NONE,
        baseline=baseline, baseline_fact="statistics.mean_control" if baseline else "",
        failed_checks=failed, warning_checks=warned,
    )  # fmt: skip
    method = "naive_regression" if identification is Identification.NONE else "difference_in_means"
    return Analysis(
        analysis_id, "effect_estimate", method, estimand="ate", identification=identification,
        assumptions=("treatment was assigned at random",), effects=(effect,), checks=checks,
        statistics={"mean_control": baseline} if baseline else {}, std_error=4.0, n=50,
        n_treated=25, n_control=25,
    )  # fmt: skip
