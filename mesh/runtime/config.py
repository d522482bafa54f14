"""Ports, data dir, peer addresses and the security settings, from flags with environment
fallbacks.

Peers are plain gRPC targets (``host:port`` or ``dns:///svc.ns:50052``) so the same code runs
as five processes on one machine or as replicated pods behind client-side load balancing.

Security settings: ``LIFTOS_API_KEYS`` (mesh.runtime.auth), ``LIFTOS_<SERVICE>_API_KEY`` or
``LIFTOS_API_KEY`` (the key this service sends to its peers), ``LIFTOS_TLS_CERT/KEY`` (serve
TLS), ``LIFTOS_TLS_CLIENT_CA`` (require client certificates it signs: mTLS),
``LIFTOS_TLS_CERT_PRINCIPALS=1`` (a client certificate with CN ``liftos-<service>`` stands
for that service), ``LIFTOS_REFLECTION`` (open | auth | off; default auth with keys, open
without), ``LIFTOS_ALLOW_INSECURE=1`` (serve keys without TLS, or no keys at all, on a
non-loopback address),
``LIFTOS_MAX_INFLIGHT`` (calls in flight per server, health aside),
``LIFTOS_MAX_INFLIGHT_PER_ORG`` (how many of them the keys of one org may hold; default a
quarter, :func:`org_share`).

Observability: ``LIFTOS_METRICS_PORT`` / ``--metrics-port`` (Prometheus metrics on
http://HOST:PORT/metrics; off unless set), ``LIFTOS_METRICS_MAX_ORGS`` (orgs with their own
label), and the standard ``OTEL_*`` variables for traces (mesh.runtime.tracing).

A peer target may name several replicas: ``ipv4:10.0.0.5:50053,10.0.0.6:50053`` or a
``dns:///causal.liftos:50053`` name with several addresses; the channels spread calls over
them round robin and retry idempotent calls on UNAVAILABLE (mesh.runtime.channels).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

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
# Services whose requests are all small receive less (R14-F1: what an admitted caller can
# make the server hold per call). Their largest legitimate requests, from the caps their
# converters enforce (tests/runtime/test_admission_receive_limit.py builds them): llm's is a
# CheckClaims of 20,000 characters (< 0.2 MB); surfacing's an OptimizeBudget or
# PredictPerformance of 1,000 entries of 1,024-character names and 366 daily values (< 9 MB).
SERVICE_MAX_RECEIVE_BYTES: dict[str, int] = {"llm": 4 * 1024 * 1024, "surfacing": 16 * 1024 * 1024}
# Calls in flight per server before new ones are answered RESOURCE_EXHAUSTED (+ RetryInfo).
# An Ingest or WriteStream holds its slot for the whole stream.
DEFAULT_MAX_INFLIGHT = 256
# The share of those one org's keys may hold (R14-F2): a tenant that fills its share (idle
# streams, a burst) leaves three quarters of the server to the others. Principals acting for
# any org (the services, an ``*`` ops key) have no share; an open mesh knows no org
# (mesh.runtime.interceptor._slot_org).
ORG_SHARE_DIVISOR = 4


def org_share(max_inflight: int) -> int:
    """The default calls in flight one org may hold: a quarter of ``max_inflight``, at least 1."""
    return max(1, max_inflight // ORG_SHARE_DIVISOR)


REFLECTION_MODES = ("open", "auth", "off")
_TRUE = ("1", "true", "yes")


N = TypeVar("N", int, float)


class EnvValue(str):
    """A flag's default read from the environment variable ``name``. Argparse converts a string
    default with the flag's ``type`` only after parsing (so a mistyped variable never stops
    ``--help``, and a flag given on the command line wins without it being read), and the
    converters below then name the variable rather than the flag."""

    name: str

    def __new__(cls, value: str, name: str) -> EnvValue:
        text = super().__new__(cls, value)
        text.name = name
        return text


def env_default(name: str, default: object = None) -> object:
    """The default of the flag whose environment variable is ``name``: its value (an
    :class:`EnvValue`) where set and not empty, else ``default``."""
    raw = os.environ.get(name, "")
    return EnvValue(raw, name) if raw else default


def _whole_number(low: int, high: int, expected: str) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number in [low, high] whose error names the variable a
    default came from (``LIFTOS_MAX_INFLIGHT='abc' is not …``), or the value given."""

    def convert(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            said = f"{text.name}={str(text)!r}" if isinstance(text, EnvValue) else repr(text)
            raise argparse.ArgumentTypeError(f"{said} is not {expected}")
        return value

    convert.__name__ = expected  # argparse's fallback message says "invalid <name> value"
    return convert


# Ports a service binds: 0 asks for any free one (tests; the metrics endpoint).
port_number = _whole_number(0, 65535, "a port (0-65535)")
positive_number = _whole_number(1, 2**31 - 1, "a whole number of at least 1")


def port_variable(service: str) -> str:
    """The environment variable that names ``service``'s port."""
    return f"LIFTOS_{service.upper()}_PORT"


def env_number(name: str, default: N, cast: Callable[[str], N]) -> N:
    """``cast`` of the environment variable ``name`` (``default`` when unset or empty), for
    settings that are no flag; a value ``cast`` refuses is a ValueError naming the variable,
    its value and what it should be."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return cast(raw)
    except ValueError:
        expected = "a whole number" if cast is int else "a number"
        raise ValueError(f"{name}={raw!r} is not {expected}") from None


def env_service_ports() -> dict[str, int]:
    """Each service's port as its ``LIFTOS_<SERVICE>_PORT`` says (else the default), for a
    launcher (``liftos up``) that must know the ports before the services bind them; a value
    that is not a port 1-65535 is a ValueError naming the variable."""
    ports = {}
    for service, default in DEFAULT_PORTS.items():
        name = port_variable(service)
        raw = os.environ.get(name, "").strip()
        if not raw:
            ports[service] = default
        elif raw.isdigit() and 1 <= int(raw) <= 65535:
            ports[service] = int(raw)
        else:
            raise ValueError(f"{name}={raw!r} is not a port (1-65535)")
    return ports


def add_host_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=env_default("LIFTOS_HOST", "127.0.0.1"),
        help="the address to serve on (env LIFTOS_HOST; default 127.0.0.1)",
    )


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=env_default("LIFTOS_DATA_DIR", DEFAULT_DATA_DIR),
        help=f"where the services keep their state (env LIFTOS_DATA_DIR; default {DEFAULT_DATA_DIR})",
    )


def add_log_level_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        default=env_default("LIFTOS_LOG_LEVEL", "INFO"),
        help="env LIFTOS_LOG_LEVEL; default INFO",
    )


def add_metrics_port_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--metrics-port",
        type=port_number,
        default=env_default("LIFTOS_METRICS_PORT"),
        help=help_text,
    )


def _env_addr(service: str) -> str:
    return os.environ.get(f"LIFTOS_{service.upper()}_ADDR", f"127.0.0.1:{DEFAULT_PORTS[service]}")


def replicas_target(host: str, ports: Sequence[int]) -> str:
    """One gRPC target for replicas of a service on ``host`` at ``ports``: ``host:port`` for
    one, else an ``ipv4:``/``ipv6:`` address list (a host name is resolved once, here) that
    the channels balance round robin."""
    if len(ports) == 1:
        return f"{host}:{ports[0]}"
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = ipaddress.ip_address(socket.gethostbyname(host))
    if ip.version == 6:
        return "ipv6:" + ",".join(f"[{ip}]:{p}" for p in ports)
    return "ipv4:" + ",".join(f"{ip}:{p}" for p in ports)


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
    """A server certificate chain and its private key (PEM bytes); with ``client_ca``, the
    server requires client certificates signed by it (mTLS)."""

    cert_chain: bytes
    private_key: bytes = field(repr=False)  # never in a log line or traceback
    client_ca: bytes | None = None

    @classmethod
    def from_files(
        cls, cert: str | Path, key: str | Path, client_ca: str | Path | None = None
    ) -> TlsConfig:
        ca = Path(client_ca).read_bytes() if client_ca else None
        return cls(Path(cert).read_bytes(), Path(key).read_bytes(), ca)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How one service process runs."""

    service: str
    host: str
    port: int
    data_dir: Path
    peers: PeerConfig
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # the largest request message (None: the service's own, at most max_message_bytes)
    max_receive_bytes: int | None = None
    grace_seconds: float = 5.0
    auth: AuthConfig | None = None
    tls: TlsConfig | None = None
    reflection: str | None = None  # open | auth | off; None: auth with keys, open without
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    max_inflight_per_org: int | None = None  # None: org_share(max_inflight)
    allow_insecure: bool = False
    # the key this service sends its peers (None: LIFTOS_API_KEY); never in a repr
    api_key: str | None = field(default=None, repr=False)
    metrics_port: int | None = None  # Prometheus endpoint (0: a free port); None: off

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def receive_limit(self) -> int:
        """The largest request message this server reads."""
        if self.max_receive_bytes is not None:
            return self.max_receive_bytes
        return min(self.max_message_bytes, SERVICE_MAX_RECEIVE_BYTES.get(self.service, 2**31 - 1))


def add_server_arguments(parser: argparse.ArgumentParser, service: str) -> None:
    """The flags every ``python -m <svc>`` takes, each with its ``LIFTOS_*`` fallback (the
    ``env_default`` and ``add_*_argument`` helpers above, which ``liftos up`` shares)."""
    add_host_argument(parser)
    parser.add_argument(
        "--port",
        type=port_number,
        default=env_default(port_variable(service), DEFAULT_PORTS[service]),
        help=f"env {port_variable(service)}; default {DEFAULT_PORTS[service]}",
    )
    add_data_dir_argument(parser)
    for peer in SERVICES:
        if peer != service:
            parser.add_argument(
                f"--{peer}-addr",
                default=None,
                help=f"{peer} service target (env LIFTOS_{peer.upper()}_ADDR): host:port, or "
                "replicas as ipv4:HOST:PORT,HOST:PORT or dns:///NAME:PORT",
            )
    add_log_level_argument(parser)
    parser.add_argument(
        "--tls-cert", default=os.environ.get("LIFTOS_TLS_CERT", ""), help="PEM certificate chain"
    )
    parser.add_argument(
        "--tls-key", default=os.environ.get("LIFTOS_TLS_KEY", ""), help="PEM private key"
    )
    parser.add_argument(
        "--tls-client-ca",
        default=os.environ.get("LIFTOS_TLS_CLIENT_CA", ""),
        help="PEM CA bundle: require client certificates it signs (mTLS)",
    )
    parser.add_argument(
        "--reflection",
        choices=REFLECTION_MODES,
        default=os.environ.get("LIFTOS_REFLECTION") or None,
        help="server reflection: open, auth (needs a key) or off (default: auth with keys)",
    )
    parser.add_argument(
        "--allow-insecure",
        action="store_true",
        default=os.environ.get("LIFTOS_ALLOW_INSECURE", "").lower() in _TRUE,
        help="on a non-loopback address, serve API keys without TLS (keys cross in clear) or "
        "no keys at all (an open mesh: any client acts for any org)",
    )
    add_metrics_port_argument(
        parser,
        "serve Prometheus metrics on http://HOST:PORT/metrics (env LIFTOS_METRICS_PORT; "
        "default off)",
    )
    parser.add_argument(
        "--max-inflight",
        type=positive_number,
        default=env_default("LIFTOS_MAX_INFLIGHT", DEFAULT_MAX_INFLIGHT),
        help="calls in flight before RESOURCE_EXHAUSTED, health aside (env LIFTOS_MAX_INFLIGHT; "
        f"default {DEFAULT_MAX_INFLIGHT})",
    )
    parser.add_argument(
        "--max-inflight-per-org",
        type=positive_number,
        default=env_default("LIFTOS_MAX_INFLIGHT_PER_ORG"),
        help="of those, how many the keys of one org may hold (env LIFTOS_MAX_INFLIGHT_PER_ORG; "
        "default a quarter of --max-inflight)",
    )


def server_config_from_args(args: argparse.Namespace, service: str) -> ServerConfig:
    peers = PeerConfig.from_env().with_overrides(
        **{s: getattr(args, f"{s}_addr", None) for s in SERVICES if s != service}
    )
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise SystemExit("--tls-client-ca needs --tls-cert and --tls-key (mTLS is TLS)")
    per_org = getattr(args, "max_inflight_per_org", None)
    if per_org is not None and not 1 <= per_org <= args.max_inflight:
        raise SystemExit("--max-inflight-per-org must be between 1 and --max-inflight")
    if args.reflection is not None and args.reflection not in REFLECTION_MODES:
        raise SystemExit(f"LIFTOS_REFLECTION must be one of {', '.join(REFLECTION_MODES)}")
    try:
        auth = AuthConfig.from_env()
    except ValueError as exc:  # names the entry by position, never its key
        raise SystemExit(str(exc)) from None
    return ServerConfig(
        service=service,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        peers=peers,
        auth=auth,
        tls=TlsConfig.from_files(args.tls_cert, args.tls_key, args.tls_client_ca or None)
        if args.tls_cert
        else None,
        reflection=args.reflection,
        max_inflight=args.max_inflight,
        max_inflight_per_org=per_org,
        allow_insecure=args.allow_insecure,
        api_key=service_api_key(service),
        metrics_port=args.metrics_port,
    )


def service_api_key(service: str) -> str:
    """The key ``service`` sends its peers: ``LIFTOS_<SERVICE>_API_KEY``, else ``LIFTOS_API_KEY``."""
    return os.environ.get(f"LIFTOS_{service.upper()}_API_KEY") or os.environ.get(
        "LIFTOS_API_KEY", ""
    )
