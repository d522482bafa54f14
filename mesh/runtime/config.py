"""Ports, data dir and peer addresses, from flags with environment fallbacks.

Peers are plain gRPC targets (``host:port`` or ``dns:///svc.ns:50052``) so the same code runs
as five processes on one machine or as replicated pods behind client-side load balancing.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from mesh.runtime.auth import AuthConfig

DEFAULT_PORTS = {
    "ingestion": 50051,
    "memory": 50052,
    "causal": 50053,
    "llm": 50054,
    "surfacing": 50055,
}
SERVICES = tuple(DEFAULT_PORTS)
DEFAULT_DATA_DIR = Path(".liftos")
# 64 MiB: a 1,000-record batch is ~1 MiB; analysts' inline tables can be tens of MiB.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _env_addr(service: str) -> str:
    return os.environ.get(f"LIFTOS_{service.upper()}_ADDR", f"127.0.0.1:{DEFAULT_PORTS[service]}")


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """Where each peer service listens."""

    ingestion: str
    memory: str
    causal: str
    llm: str
    surfacing: str

    @classmethod
    def from_env(cls) -> PeerConfig:
        return cls(**{s: _env_addr(s) for s in SERVICES})

    def with_overrides(self, **addrs: str | None) -> PeerConfig:
        current = {s: getattr(self, s) for s in SERVICES}
        current.update({k: v for k, v in addrs.items() if v})
        return PeerConfig(**current)


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """A server certificate chain and its private key (PEM bytes)."""

    cert_chain: bytes
    private_key: bytes

    @classmethod
    def from_files(cls, cert: str | Path, key: str | Path) -> TlsConfig:
        return cls(Path(cert).read_bytes(), Path(key).read_bytes())


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How one service process runs."""

    service: str
    host: str
    port: int
    data_dir: Path
    peers: PeerConfig
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    grace_seconds: float = 5.0
    auth: AuthConfig | None = None
    tls: TlsConfig | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def add_server_arguments(parser: argparse.ArgumentParser, service: str) -> None:
    """The flags every ``python -m <svc>`` takes."""
    parser.add_argument("--host", default=os.environ.get("LIFTOS_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(f"LIFTOS_{service.upper()}_PORT", DEFAULT_PORTS[service])),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("LIFTOS_DATA_DIR", DEFAULT_DATA_DIR)),
    )
    for peer in SERVICES:
        if peer != service:
            parser.add_argument(
                f"--{peer}-addr",
                default=None,
                help=f"{peer} service target (env LIFTOS_{peer.upper()}_ADDR)",
            )
    parser.add_argument("--log-level", default=os.environ.get("LIFTOS_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--tls-cert", default=os.environ.get("LIFTOS_TLS_CERT", ""), help="PEM certificate chain"
    )
    parser.add_argument(
        "--tls-key", default=os.environ.get("LIFTOS_TLS_KEY", ""), help="PEM private key"
    )


def server_config_from_args(args: argparse.Namespace, service: str) -> ServerConfig:
    peers = PeerConfig.from_env().with_overrides(
        **{s: getattr(args, f"{s}_addr", None) for s in SERVICES if s != service}
    )
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    return ServerConfig(
        service=service,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        peers=peers,
        auth=AuthConfig.from_env(),
        tls=TlsConfig.from_files(args.tls_cert, args.tls_key) if args.tls_cert else None,
    )
