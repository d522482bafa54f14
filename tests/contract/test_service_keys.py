"""Per-service keys (``KEY:service=NAME``, as README recommends): each service's principal may
make every peer call its code makes (read from the source, checked against SERVICE_SCOPES),
the flows that cross the mesh work under them over real servers (attribution, products,
recommend, predict, design saved to the registry, explain), and a peer that refuses a
service's key surfaces as FAILED_PRECONDITION PEER_REFUSED naming the call, not INTERNAL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2, llm_pb2, memory_pb2, surfacing_pb2
from liftos.v1 import llm_pb2_grpc as llm_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2 as surfacing_pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from llm_svc.app import build as llm_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import SERVICE_SCOPES, AuthConfig, service_principal
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import Build, RunningService, running_services
from mesh.runtime.status import decode_status
from surfacing_svc.app import build as surfacing_build
from tests.causal.attribution.records import register_holdout, world_records, write_records

ROOT = Path(__file__).resolve().parents[2]
ORG = "org_keys"
KEYS = AuthConfig.parse(
    f"key-a:{ORG},loader:{ORG}:public+records.write,svc-ing:service=ingestion,"
    "svc-causal:service=causal,svc-llm:service=llm,svc-surf:service=surfacing"
)
SERVICE_KEYS = {"ingestion": "svc-ing", "causal": "svc-causal", "llm": "svc-llm",
                "surfacing": "svc-surf"}  # fmt: skip
USER = auth_metadata("key-a")

# -- the scopes, derived from the code --------------------------------------------------------

# A stub call (``.stub().Scan(``), a shared helper that makes one, or a method named by its
# descriptor (ingestion's raw WriteStream).
_STUB_CALL = re.compile(r"\.stub\(\)\.([A-Z]\w+)\(")
_BY_NAME = re.compile(r"methods_by_name\[['\"](\w+)['\"]\]")
# mesh.runtime helpers a service calls, by the RPC they make (registered_tests pages
# ListExperiments through mesh.runtime.peers.experiments)
_HELPERS = {"external_factor_series": "ListExternalFactors", "registered_tests": "ListExperiments"}


def _methods() -> dict[str, str]:
    """Every liftos.v1 RPC's short name → its full path; a name in two services fails."""
    out: dict[str, str] = {}
    for module in (causal_pb, ingestion_pb2, llm_pb2, memory_pb2, surfacing_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                assert m.name not in out, f"{m.name} is in two services: match by stub"
                out[m.name] = f"/{service.full_name}/{m.name}"
    return out


def peer_calls(service: str) -> set[str]:
    """The RPCs ``<service>_svc`` calls on its peers, read from its source."""
    names: set[str] = set()
    for path in (ROOT / f"{service}_svc").rglob("*.py"):
        text = path.read_text()
        names |= set(_STUB_CALL.findall(text)) | set(_BY_NAME.findall(text))
        names |= {rpc for helper, rpc in _HELPERS.items() if f"{helper}(" in text}
    methods = _methods()
    # the mesh helpers in mesh/runtime/peers.py are counted through _HELPERS; any other name
    # a stub call uses must be an RPC
    assert names <= set(methods), names - set(methods)
    return {methods[n] for n in names}


def test_the_helpers_are_every_call_mesh_runtime_makes_for_a_service() -> None:
    """mesh/runtime/peers.py's own stub calls are the helpers counted above, no more."""
    text = (ROOT / "mesh/runtime/peers.py").read_text()
    assert set(_STUB_CALL.findall(text)) == set(_HELPERS.values())


@pytest.mark.parametrize("service", sorted(SERVICE_SCOPES))
def test_each_service_principal_may_make_every_peer_call_of_its_code(service: str) -> None:
    calls = peer_calls(service)
    if service != "memory":
        assert calls, f"no peer calls found in {service}_svc: the pattern no longer matches"
    principal = service_principal(service)
    missing = sorted(m for m in calls if not principal.allows(m))
    assert not missing, f"service={service} may not call {missing}"


def test_the_calls_found_include_the_ones_the_audit_saw_refused() -> None:
    """The reading of the source finds the calls: the two refused in R1-F1 and surfacing's."""
    assert "/liftos.v1.IngestionService/ListExternalFactors" in peer_calls("causal")
    assert "/liftos.v1.MemoryService/AggregateProducts" in peer_calls("causal")
    assert "/liftos.v1.IngestionService/ListExternalFactors" in peer_calls("surfacing")
    assert "/liftos.v1.MemoryService/WriteStream" in peer_calls("ingestion")
    # Explain asks what changed under the explained analysis's window since it was made
    assert peer_calls("llm") == {
        "/liftos.v1.CausalService/GetAnalysis",
        "/liftos.v1.CausalService/Counterfactual",
        "/liftos.v1.SurfacingService/CheckAnalysisData",
    }


# -- the flows, over real servers under per-service keys -------------------------------------


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=6, days=150)


@pytest.fixture(scope="module")
def mesh(
    tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult
) -> Iterator[dict[str, RunningService]]:
    # surfacing before llm: Explain asks it, and each address is fed to the services after it
    builds: dict[str, Build] = {
        "memory": memory_build,
        "ingestion": ingestion_build,
        "causal": causal_build,
        "surfacing": surfacing_build,
        "llm": llm_build,
    }
    with running_services(
        builds, tmp_path_factory.mktemp("keys"), auth=KEYS, api_keys=SERVICE_KEYS
    ) as services:
        with grpc.insecure_channel(services["memory"].address) as channel:
            memory = memory_grpc.MemoryServiceStub(grpc.intercept_channel(channel, _Key("loader")))
            write_records(memory, ORG, world_records(world, ORG))
        with grpc.insecure_channel(services["ingestion"].address) as channel:
            register_holdout(grpc.intercept_channel(channel, _Key("key-a")), world, ORG)
        yield services


class _Key(grpc.UnaryUnaryClientInterceptor, grpc.StreamUnaryClientInterceptor):
    """Sends ``authorization: Bearer <key>`` on every unary and client-streaming call."""

    def __init__(self, key: str) -> None:
        self._metadata = auth_metadata(key)

    def _with_key(self, details):  # type: ignore[no-untyped-def]
        return details._replace(metadata=[*(details.metadata or ()), *self._metadata])

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_key(details), request)

    def intercept_stream_unary(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._with_key(details), requests)


def _stub(services: dict[str, RunningService], service: str, make):  # type: ignore[no-untyped-def]
    return make(grpc.insecure_channel(services[service].address))


@pytest.fixture(scope="module")
def analysis(mesh: dict[str, RunningService]) -> causal_pb.AttributionResult:
    """AnalyzeAttribution: causal reads AggregateRecords, ListExperiments (the holdout's
    lift calibrates it) and ListExternalFactors with its service key."""
    causal = _stub(mesh, "causal", causal_grpc.CausalServiceStub)
    request = causal_pb.AnalyzeAttributionRequest(org_id=ORG)
    events = list(causal.AnalyzeAttribution(request, metadata=USER, timeout=300))
    result = events[-1].result
    assert result.analysis_id and result.channels
    assert result.calibration, "the registry's lift test was read and used"
    return result


def test_attribution_runs_under_service_keys(analysis: causal_pb.AttributionResult) -> None:
    assert analysis.day_count == 150


def test_products_reach_memory_under_service_keys(mesh: dict[str, RunningService]) -> None:
    """AnalyzeProducts' AggregateProducts is allowed: an org without product records gets
    memory's answer (no product data), not a refusal turned INTERNAL."""
    causal = _stub(mesh, "causal", causal_grpc.CausalServiceStub)
    with pytest.raises(grpc.RpcError) as err:
        list(causal.AnalyzeProducts(causal_pb.AnalyzeProductsRequest(org_id=ORG),
                                    metadata=USER, timeout=60))  # fmt: skip
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION, err.value.details()
    assert "no product records" in (err.value.details() or "")


def test_surfacing_and_llm_flows_run_under_service_keys(
    mesh: dict[str, RunningService], analysis: causal_pb.AttributionResult
) -> None:
    """Recommend (GetAnalysis, ListAnalyses, Counterfactual), PredictPerformance (the
    calendar's ListExternalFactors, AggregateRecords), CheckAnalysisData (the same reads),
    DesignExperiment saved (CreateExperiment) and Explain (llm's GetAnalysis, and surfacing's
    CheckAnalysisData: a refused check would open the text with "not checked")."""
    surfacing = _stub(mesh, "surfacing", surfacing_grpc.SurfacingServiceStub)
    recommend = surfacing.Recommend(
        surfacing_pb.RecommendRequest(org_id=ORG, analysis_ids=[analysis.analysis_id]),
        metadata=USER, timeout=300,
    )  # fmt: skip
    assert recommend.ListFields()
    predict = surfacing.PredictPerformance(
        surfacing_pb.PredictPerformanceRequest(org_id=ORG, analysis_id=analysis.analysis_id,
                                               horizon_days=14),
        metadata=USER, timeout=300,
    )  # fmt: skip
    assert predict.ListFields()
    # CheckAnalysisData: GetAnalysis, the calendar and AggregateRecords, as Recommend reads
    # them (a refused peer would read "could not be checked", with no day compared)
    check = surfacing.CheckAnalysisData(
        surfacing_pb.CheckAnalysisDataRequest(org_id=ORG, analysis_id=analysis.analysis_id),
        metadata=USER, timeout=300,
    )  # fmt: skip
    assert check.compared_days > 0, list(check.warnings)
    assert not [w for w in check.warnings if "could not be checked" in w], list(check.warnings)
    channel = analysis.channels[0].channel
    design = surfacing.DesignExperiment(
        surfacing_pb.DesignExperimentRequest(
            org_id=ORG, channel=channel, unit=common_pb.RANDOMIZATION_UNIT_GEO,
            save=True, experiment_id="keys-design",
        ),
        metadata=USER, timeout=300,
    )  # fmt: skip
    assert design.ListFields()
    llm = _stub(mesh, "llm", llm_grpc.LlmServiceStub)
    events = list(llm.Explain(
        llm_pb2.ExplainRequest(org_id=ORG, analysis_id=analysis.analysis_id),
        metadata=USER, timeout=120,
    ))  # fmt: skip
    assert events and events[-1].ListFields()
    text = events[-1].done.text
    assert text and "not checked" not in text and not text.startswith("Caveat"), text


def test_a_peer_refusing_the_service_key_is_a_named_precondition_not_internal(
    mesh: dict[str, RunningService], tmp_path: Path
) -> None:
    """A causal service holding a key its peers do not accept for its calls (the llm
    service's): FAILED_PRECONDITION PEER_REFUSED naming the peer, the call and the missing
    permission, not INTERNAL."""
    peers = PeerConfig.from_env().with_overrides(
        memory=mesh["memory"].address, ingestion=mesh["ingestion"].address
    )
    with running_services({"causal": causal_build}, tmp_path, peers=peers, auth=KEYS,
                          api_keys={"causal": "svc-llm"}) as wrong:  # fmt: skip
        causal = _stub(wrong, "causal", causal_grpc.CausalServiceStub)
        for call in (
            lambda: list(causal.AnalyzeAttribution(
                causal_pb.AnalyzeAttributionRequest(org_id=ORG), metadata=USER, timeout=60)),
            lambda: list(causal.AnalyzeProducts(
                causal_pb.AnalyzeProductsRequest(org_id=ORG), metadata=USER, timeout=60)),
        ):  # fmt: skip
            with pytest.raises(grpc.RpcError) as err:
                call()
            status = decode_status(err.value)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION, err.value.details()
            assert status.reason == "PEER_REFUSED"
            message = err.value.details() or ""
            assert "refused the causal service's" in message
            assert "may not call /liftos.v1." in message  # the missing permission, named
            assert "svc-llm" not in message  # never the key
