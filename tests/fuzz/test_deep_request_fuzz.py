"""Generated requests that name real analyses: none may end INTERNAL or UNKNOWN, and every
INVALID_ARGUMENT names the field it refuses.

The seed state (tests/fuzz/deep.py) holds a stored attribution analysis (a simulated demo
world with its registry holdout) and a stored product analysis (a products world ingested
through Ingest), so the seeds of AnalyzeAttribution, Counterfactual, OptimizeBudget,
PredictPerformance, DesignExperiment, Recommend, AnalyzeProducts, … are answered OK and a
request with one to three fields changed reaches the domain code: windows a day past the
data, channels twice, 200 copies of a lift test, horizons at their limits, budgets of 1e308.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings

from mesh.runtime.inprocess import running_services
from mesh.runtime.status import decode_status
from tests.conftest import all_builds
from tests.fuzz import rpcs
from tests.fuzz.deep import DeepState, deep_requests, deep_seeds, deep_state

FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
TIMEOUT_S = 120.0
# Examples per RPC, sized so the module stays under a minute on 2 shared cores: analyses
# and recommendations cost ~0.3-2 s a call, the rest milliseconds.
EXAMPLES = {
    "CausalService.AnalyzeAttribution": 8,
    "CausalService.AnalyzeProducts": 6,
    "CausalService.EstimateEffect": 5,
    "SurfacingService.OptimizeBudget": 10,
    "SurfacingService.PredictPerformance": 20,
    "SurfacingService.Recommend": 2,
    "CausalService.Counterfactual": 100,
}
DEFAULT_EXAMPLES = 40
BY_NAME = {r.name: r for r in rpcs.all_rpcs()}


@pytest.fixture(scope="module")
def mesh(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, grpc.Channel], DeepState]]:
    with running_services(all_builds(), tmp_path_factory.mktemp("deep")) as services:
        channels = {name: grpc.insecure_channel(s.address) for name, s in services.items()}
        yield channels, deep_state(channels)
        for channel in channels.values():
            channel.close()


def refusal_problem(error: grpc.RpcError | None) -> str:
    """Why an answer is a bug ('' when it is not): INTERNAL/UNKNOWN, or an INVALID_ARGUMENT
    that names no field."""
    if error is None:
        return ""
    if error.code() in FORBIDDEN:
        return error.code().name
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT and not decode_status(error).fields:
        return f"INVALID_ARGUMENT naming no field ({error.details()[:200]!r})"
    return ""


def _shown(message: object) -> str:
    text = text_format.MessageToString(message, as_one_line=True)  # type: ignore[arg-type]
    return text if len(text) < 2000 else text[:2000] + f"… ({len(text):,} characters)"


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("name", sorted(deep_seeds_names := [
    "CausalService.AnalyzeAttribution", "CausalService.Counterfactual",
    "CausalService.GetAnalysis", "CausalService.EstimateEffect",
    "CausalService.AnalyzeProducts", "MemoryService.AggregateProducts",
    "SurfacingService.OptimizeBudget", "SurfacingService.PredictPerformance",
    "SurfacingService.DesignExperiment", "SurfacingService.Recommend",
    "LlmService.CheckClaims", "LlmService.Explain",
]))  # fmt: skip
def test_requests_naming_real_analyses(mesh, name: str) -> None:
    channels, state = mesh
    seeds = deep_seeds(state)
    assert sorted(seeds) == sorted(deep_seeds_names)
    rpc = BY_NAME[name]
    channel = channels[rpc.service]
    # The seeds themselves are answered OK: the fuzzer starts past the door.
    for seed in seeds[name]:
        error = rpcs.call_error(channel, rpc, [seed], TIMEOUT_S)
        assert error is None, f"seed {_shown(seed)}: {error.code().name} {error.details()}"
    codes: Counter[str] = Counter()
    examples = EXAMPLES.get(name, DEFAULT_EXAMPLES)

    @settings(
        max_examples=examples, derandomize=True, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(deep_requests(seeds[name], state))
    def one_call(message: object) -> None:
        error = rpcs.call_error(channel, rpc, [message], TIMEOUT_S)  # type: ignore[list-item]
        codes["OK" if error is None else error.code().name] += 1
        problem = refusal_problem(error)
        assert not problem, f"{name} answered {problem} to {_shown(message)}"

    one_call()
    print(name, dict(codes))
    assert sum(codes.values()) >= examples, codes
    assert codes["OK"], codes  # some mutated requests still get through to an answer
