"""Transport and configuration: reflection behind auth (the real grpcurl), keys refused
without TLS off loopback, mTLS with `liftos certs` (real TLS on localhost), and a bad
LIFTOS_API_KEYS reported by position, never echoing a key."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.app import build as ingestion_build
from llm_svc.app import build as llm_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import PeerConfig, TlsConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.server import InsecureTransport, create_server
from mesh.sdk.client import LiftOS, RpcFailure

ROOT = Path(__file__).resolve().parents[2]
KEYS = AuthConfig.parse("key-a:org_a,svc-ing:service=ingestion")
LLM = "liftos.v1.LlmService"


def _grpcurl(grpcurl: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([grpcurl, *args], capture_output=True, text=True, timeout=30)


# -- reflection -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [None, "auth", "open", "off"])
def test_reflection_setting(tmp_path: Path, grpcurl: str, mode: str | None) -> None:
    """With keys, reflection needs one unless opened on purpose; grpcurl -H works."""
    with running_services({"llm": llm_build}, tmp_path, auth=KEYS, reflection=mode) as s:
        address = s["llm"].address
        anonymous = _grpcurl(grpcurl, "-plaintext", address, "list")
        with_key = _grpcurl(
            grpcurl, "-plaintext", "-H", "authorization: Bearer key-a", address, "list"
        )
        described = _grpcurl(
            grpcurl, "-plaintext", "-H", "authorization: Bearer key-a", address, "describe", LLM
        )
    if mode in (None, "auth"):
        assert anonymous.returncode != 0 and LLM not in anonymous.stdout
        assert "Unauthenticated" in anonymous.stderr or "API key" in anonymous.stderr
        assert with_key.returncode == 0 and LLM in with_key.stdout, with_key.stderr
        assert "rpc Explain" in described.stdout
    elif mode == "open":
        assert anonymous.returncode == 0 and LLM in anonymous.stdout
    else:
        assert anonymous.returncode != 0 and with_key.returncode != 0
        assert "reflection" in with_key.stderr.lower()


# -- keys without TLS -----------------------------------------------------------------------


def _start(address: str, **kwargs: object) -> None:
    async def go() -> None:
        server, _, _ = await create_server([], address, **kwargs)  # type: ignore[arg-type]
        await server.stop(None)

    asyncio.run(go())


def test_keys_without_tls_are_refused_off_loopback(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(InsecureTransport, match="without TLS"):
        _start("0.0.0.0:0", auth=KEYS)
    with pytest.raises(InsecureTransport):
        _start("[::]:0", auth=KEYS)
    caplog.set_level(logging.WARNING)
    _start("0.0.0.0:0", auth=KEYS, allow_insecure=True)  # overridden: starts, loudly
    assert any("INSECURE" in r.message for r in caplog.records)
    caplog.clear()
    _start("127.0.0.1:0", auth=KEYS)  # loopback: starts with a warning
    assert any("in clear" in r.message for r in caplog.records)
    _start("127.0.0.1:0")  # no keys on loopback: the open laptop mode is unchanged


def _service_process(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "llm_svc", "--port", "0", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_service_refuses_to_serve_keys_in_clear(tmp_path: Path) -> None:
    out = _service_process(
        {"LIFTOS_API_KEYS": "key-a:org_a"}, "--host", "0.0.0.0", "--data-dir", str(tmp_path)
    )
    assert out.returncode != 0
    assert "without TLS" in out.stderr and "LIFTOS_ALLOW_INSECURE" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("keys", "position"),
    [
        ("good-key:org_a,TOPSECRET-KEY-123,other:org_b", 2),
        ("TOPSECRET-KEY-123:service=nosuch", 1),
        ("a:org_a,TOPSECRET-KEY-123:org_b:public+nosuch", 2),
        ("TOPSECRET-KEY-123:org_a,TOPSECRET-KEY-123:org_b", 2),
        ("TOPSECRET-KEY-123:", 1),
    ],
)
def test_a_bad_key_entry_is_named_by_position_never_echoed(
    tmp_path: Path, keys: str, position: int
) -> None:
    with pytest.raises(ValueError) as info:
        AuthConfig.parse(keys)
    assert f"entry {position}" in str(info.value) and "TOPSECRET" not in str(info.value)
    out = _service_process({"LIFTOS_API_KEYS": keys}, "--data-dir", str(tmp_path))
    assert out.returncode != 0
    assert f"entry {position}" in out.stderr
    assert "TOPSECRET" not in out.stderr + out.stdout


# -- mTLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs") / "tls"
    made = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "certs", "--out", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    for name in ("ca", "server", "ingestion", "causal", "client"):
        assert (out / f"{name}.pem").exists()
        assert oct((out / f"{name}.key").stat().st_mode & 0o777) == "0o600"
    return out


@pytest.fixture(scope="module")
def mtls(certs: Path, tmp_path_factory: pytest.TempPathFactory):
    """memory and ingestion requiring client certificates; ingestion sends memory no key,
    and memory knows it by its certificate's CN (liftos-ingestion)."""
    mp = pytest.MonkeyPatch()
    mp.delenv("LIFTOS_API_KEY", raising=False)
    mp.setenv("LIFTOS_TLS_CA", str(certs / "ca.pem"))
    mp.setenv("LIFTOS_TLS_CLIENT_CERT", str(certs / "ingestion.pem"))
    mp.setenv("LIFTOS_TLS_CLIENT_KEY", str(certs / "ingestion.key"))
    tls = TlsConfig.from_files(certs / "server.pem", certs / "server.key", certs / "ca.pem")
    auth = AuthConfig.parse("key-a:org_a", cert_principals=True)
    with running_services(
        {"memory": memory_build, "ingestion": ingestion_build},
        tmp_path_factory.mktemp("mtls"),
        auth=auth, tls=tls, host="localhost", api_keys={"memory": "", "ingestion": ""},
    ) as services:  # fmt: skip
        yield services
    mp.undo()


def _user(certs: Path, peers: PeerConfig, cert: str | None = "client", key: str = "key-a"):  # type: ignore[no-untyped-def]
    return LiftOS(
        peers, org_id="org_a", api_key=key, timeout=10, tls_ca=str(certs / "ca.pem"),
        tls_client_cert=str(certs / f"{cert}.pem") if cert else "",
        tls_client_key=str(certs / f"{cert}.key") if cert else "",
    )  # fmt: skip


def test_services_call_each_other_over_mtls(certs: Path, mtls) -> None:
    world = sim.simulate("demo", seed=1)
    account = {**next(a for a in world.accounts if a["source"] == "meta"), "country": "US"}
    lines = [json.dumps(world.raw["meta"].base_row(k)) for k in range(20)]
    peers = PeerConfig.from_env().with_overrides(ingestion=mtls["ingestion"].address)
    with _user(certs, peers) as client:
        summary = client.ingest("meta", lines, account=account, batch_size=10, retries=0)
    assert summary.written == 20  # ingestion → memory authenticated by its certificate


def _secure_memory(certs: Path, address: str, cert: str | None, ca: Path | None = None):  # type: ignore[no-untyped-def]
    credentials = grpc.ssl_channel_credentials(
        (ca or certs / "ca.pem").read_bytes(),
        private_key=(certs / f"{cert}.key").read_bytes() if cert else None,
        certificate_chain=(certs / f"{cert}.pem").read_bytes() if cert else None,
    )
    return memory_grpc.MemoryServiceStub(grpc.secure_channel(address, credentials))


def test_mtls_refuses_callers_without_a_good_certificate(certs: Path, mtls, tmp_path: Path) -> None:
    address = mtls["memory"].address
    search = memory_pb.SearchRequest(org_id="org_a", text="x", k=1)
    with pytest.raises(grpc.RpcError) as info:  # no client certificate: no handshake
        _secure_memory(certs, address, None).Search(search, metadata=auth_metadata("key-a"))
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    from mesh.runtime.certs import make_dev_certs

    other = tmp_path / "other"
    make_dev_certs(other)  # a certificate from another CA
    with pytest.raises(grpc.RpcError) as info:
        _secure_memory(other, address, "client", ca=certs / "ca.pem").Search(
            search, metadata=auth_metadata("key-a")
        )
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    user = _secure_memory(certs, address, "client")
    with pytest.raises(grpc.RpcError) as info:  # a user's certificate stands for no one
        user.Search(search)
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    user.Search(search, metadata=auth_metadata("key-a"))  # …with the user's key it works
    ingestion = _secure_memory(certs, address, "ingestion")
    with pytest.raises(grpc.RpcError) as info:  # a service certificate: only its scopes
        ingestion.Search(search)
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    peers = PeerConfig.from_env().with_overrides(ingestion=mtls["ingestion"].address)
    with _user(certs, peers, cert=None) as client, pytest.raises(RpcFailure) as failure:
        list(client.list_experiments())
    assert failure.value.code is grpc.StatusCode.UNAVAILABLE


def test_grpcurl_over_mtls(certs: Path, mtls, grpcurl: str) -> None:
    address = mtls["ingestion"].address
    tls = ["-cacert", str(certs / "ca.pem"), "-cert", str(certs / "client.pem"),
           "-key", str(certs / "client.key")]  # fmt: skip
    listed = _grpcurl(grpcurl, *tls, "-H", "authorization: Bearer key-a", address, "list")
    assert listed.returncode == 0, listed.stderr
    assert "liftos.v1.IngestionService" in listed.stdout
    bare = _grpcurl(grpcurl, "-cacert", str(certs / "ca.pem"), address, "list")
    assert bare.returncode != 0


def test_certificates_map_to_services_only_when_configured() -> None:
    plain = AuthConfig.parse("key-a:org_a")
    mapped = AuthConfig.parse("key-a:org_a", cert_principals=True)
    assert plain is not None and mapped is not None
    from mesh.runtime.exceptions import Unauthenticated

    with pytest.raises(Unauthenticated):
        plain.principal((), "liftos-ingestion")
    assert mapped.principal((), "liftos-ingestion").label == "service ingestion"
    with pytest.raises(Unauthenticated):
        mapped.principal((), "liftos-client")
    with pytest.raises(Unauthenticated):
        mapped.principal((), "ingestion")


def test_configs_never_show_secrets() -> None:
    from mesh.runtime.config import ServerConfig

    config = ServerConfig(
        "memory", "127.0.0.1", 0, ROOT, PeerConfig.from_env(), auth=KEYS,
        tls=TlsConfig(b"chain", b"PRIVATE-KEY-BYTES"), api_key="SERVICE-KEY-XYZ",
    )  # fmt: skip
    shown = repr(config)
    assert "PRIVATE-KEY-BYTES" not in shown and "SERVICE-KEY-XYZ" not in shown
    assert "key-a" not in shown and "svc-ing" not in shown  # nor the deployment's keys
