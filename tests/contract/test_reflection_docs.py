"""Reflection serves the proto comments (R1-F6): the real grpcurl describes an RPC, a message
and a field with the text written above them in proto/, and grpc.reflection.v1 answers
as v1alpha does, behind the same auth."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2 as rpb
from liftos.v1 import (  # noqa: F401 (every contract in the pool)
    causal_pb2,
    ingestion_pb2,
    llm_pb2,
    memory_pb2,
    surfacing_pb2,
)

from causal_svc.app import build as causal_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.runtime.reflection import DESCRIPTOR_SET, documented_files

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto" / "liftos" / "v1"
V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def _comment_above(proto: Path, declaration: str) -> list[str]:
    """The `//` lines right above the line of ``proto`` matching ``declaration``, as text."""
    lines = proto.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if re.match(declaration, line.strip()))
    comment: list[str] = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("//"):
            break
        comment.insert(0, line.strip().removeprefix("//").strip())
    assert comment, f"no comment above {declaration} in {proto.name}"
    return [c for c in comment if c]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("refl")) as running:  # type: ignore[arg-type]
        yield running


def _describe(grpcurl: str, address: str, symbol: str) -> str:
    out = subprocess.run(
        [grpcurl, "-plaintext", address, "describe", symbol],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_describe_shows_the_rpc_comment(grpcurl: str, services: dict[str, RunningService]) -> None:
    out = _describe(
        grpcurl, services["causal"].address, "liftos.v1.CausalService.AnalyzeAttribution"
    )
    for line in _comment_above(PROTO / "causal.proto", r"rpc AnalyzeAttribution\("):
        assert line in out, f"{line!r} missing from:\n{out}"
    assert "rpc AnalyzeAttribution ( .liftos.v1.AnalyzeAttributionRequest )" in out


def test_describe_shows_message_and_field_comments(
    grpcurl: str, services: dict[str, RunningService]
) -> None:
    out = _describe(grpcurl, services["memory"].address, "liftos.v1.ScanRequest")
    for line in _comment_above(PROTO / "memory.proto", r"message ScanRequest \{"):
        assert line in out, f"{line!r} missing from:\n{out}"
    batch = _comment_above(PROTO / "memory.proto", r"int32 batch_size = 8;")
    assert any("default 1000" in line for line in batch)  # the limit an integrator needs
    for line in batch:
        assert line in out
    field = _describe(grpcurl, services["memory"].address, "liftos.v1.ScanRequest.batch_size")
    assert batch[0] in field and "int32 batch_size = 8;" in field


def _v1_ask(
    address: str, request: rpb.ServerReflectionRequest, key: str | None = None
) -> rpb.ServerReflectionResponse:
    """One exchange on grpc.reflection.v1 (its messages are v1alpha's, field for field)."""
    with grpc.insecure_channel(address) as channel:
        call = channel.stream_stream(
            V1_METHOD,
            request_serializer=rpb.ServerReflectionRequest.SerializeToString,
            response_deserializer=rpb.ServerReflectionResponse.FromString,
        )
        metadata = (("authorization", f"Bearer {key}"),) if key else None
        return next(iter(call(iter([request]), metadata=metadata, timeout=10)))


def test_v1_lists_and_serves_the_commented_file(services: dict[str, RunningService]) -> None:
    address = services["causal"].address
    listed = _v1_ask(address, rpb.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    assert {
        "liftos.v1.CausalService",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names
    found = _v1_ask(
        address, rpb.ServerReflectionRequest(file_containing_symbol="liftos.v1.CausalService")
    )
    files = {
        f.name: f
        for f in map(
            descriptor_pb2.FileDescriptorProto.FromString,
            found.file_descriptor_response.file_descriptor_proto,
        )
    }
    causal = files["liftos/v1/causal.proto"]
    comments = " ".join(loc.leading_comments for loc in causal.source_code_info.location)
    assert "Runs the attribution pipeline" in comments
    missing = _v1_ask(address, rpb.ServerReflectionRequest(file_containing_symbol="no.Such"))
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_v1_keeps_the_reflection_auth(tmp_path: Path) -> None:
    keys = AuthConfig.parse("key-a:org_a")
    ask = rpb.ServerReflectionRequest(list_services="")
    with running_services({"causal": causal_build}, tmp_path, auth=keys) as running:
        address = running["causal"].address
        with pytest.raises(grpc.RpcError) as refused:
            _v1_ask(address, ask)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert _v1_ask(address, ask, key="key-a").list_services_response.service


def test_the_descriptor_set_is_what_the_server_speaks() -> None:
    """gen/liftos/v1/descriptors.binpb holds every contract, the same as the pb2 modules
    but for the comments (`make gen` writes both)."""
    documented = documented_files(descriptor_pool.Default())
    assert set(documented) == {f"liftos/v1/{p.name}" for p in PROTO.glob("*.proto")}


def test_a_stale_descriptor_set_is_not_served(tmp_path: Path) -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    scan = next(m for f in files.file for m in f.message_type if m.name == "ScanRequest")
    scan.field[0].number = 99  # a contract this server does not speak
    stale = tmp_path / "descriptors.binpb"
    stale.write_bytes(files.SerializeToString())
    documented = documented_files(descriptor_pool.Default(), stale)
    assert "liftos/v1/memory.proto" not in documented
    assert "liftos/v1/causal.proto" in documented
