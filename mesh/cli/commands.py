"""The ``liftos`` command: its parser, ``main``, and the small verbs (up, status, calendar,
certs, demo); the larger verbs have a module each beside it."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mesh.cli import exits, timeouts
from mesh.cli.exits import exit_status, failure_text
from mesh.cli.json_out import print_json
from mesh.cli.processes import Mesh, PortsInUse, fresh_health
from mesh.runtime.config import (
    DEFAULT_PORTS,
    PeerConfig,
    add_data_dir_argument,
    add_host_argument,
    add_log_level_argument,
    add_metrics_port_argument,
    env_service_ports,
)
from mesh.sdk.client import LiftOS
from mesh.sdk.failures import RpcFailure


def _ports(base_port: int | None) -> dict[str, int]:
    """Default ports, or base_port, base_port+1, … in ingestion/memory/causal/llm/surfacing order."""
    if base_port is None:
        return dict(DEFAULT_PORTS)
    return {s: base_port + i for i, s in enumerate(DEFAULT_PORTS)}


def _peers(args: argparse.Namespace) -> PeerConfig:
    """Peer addresses: env LIFTOS_*_ADDR, unless --base-port names a local mesh."""
    if getattr(args, "base_port", None) is None:
        return PeerConfig.from_env()
    host = getattr(args, "host", "127.0.0.1")
    return PeerConfig(**{s: f"{host}:{p}" for s, p in _ports(args.base_port).items()})


def _add_mesh_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--base-port", type=int, default=None,
        help="mesh on BASE..BASE+4 instead of 50051-50055 (or LIFTOS_*_ADDR)",
    )  # fmt: skip


def cmd_up(args: argparse.Namespace) -> int:
    try:  # the services' own defaults: LIFTOS_<SERVICE>_PORT, unless --base-port
        ports = _ports(args.base_port) if args.base_port is not None else env_service_ports()
    except ValueError as exc:
        raise SystemExit(f"liftos up: {exc}") from None
    os.umask(0o077)  # the data dir, logs and everything the services write: owner only
    for flag, env in ((args.llm_url, "LIFTOS_LLM_URL"), (args.llm_model, "LIFTOS_LLM_MODEL"),
                      (args.llm_allowed_urls, "LIFTOS_LLM_ALLOWED_URLS"),
                      (args.store, "LIFTOS_MEMORY_STORE")):  # fmt: skip
        if flag:
            os.environ[env] = flag  # the service processes inherit them
    mesh = Mesh(
        args.data_dir, host=args.host, ports=ports, log_level=args.log_level,
        tls_dir=args.tls_dir, replicas=args.replicas, metrics_port=args.metrics_port,
    )  # fmt: skip
    peers = PeerConfig(**{s: mesh.address(s) for s in DEFAULT_PORTS})
    d = args.tls_dir
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    mesh.start()
    status = mesh.wait_serving(fresh_health(lambda: LiftOS(
        peers,
        tls_ca=str(d / "ca.pem") if d else None,
        tls_client_cert=str(d / "client.pem") if d else None,
        tls_client_key=str(d / "client.key") if d else None,
    )))  # fmt: skip
    if any(status.get(s) != "SERVING" for s in mesh.services):
        for service, code in mesh.dead().items():
            print(f"{service} exited with {code}:\n{mesh.tail_log(service)}", file=sys.stderr)
        print(f"mesh did not come up: {status}", file=sys.stderr)
        mesh.stop()
        return 1
    print(f"LiftOS mesh up (data dir {args.data_dir.resolve()}); Ctrl-C to stop")
    for service in mesh.services:
        print(
            f"  {service:<10} {mesh.address(service)}  SERVING  log {args.data_dir / (service + '.log')}"
        )
    sys.stdout.flush()
    while not stopping:
        if dead := mesh.dead():
            print(f"service(s) exited: {dead}; stopping the mesh", file=sys.stderr)
            mesh.stop()
            return 1
        time.sleep(0.5)
    print("stopping…")
    mesh.stop()
    print("stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Each service's health; exits RETRY (4) unless all five are SERVING."""
    with LiftOS(_peers(args)) as client:
        status = client.health(timeout=args.timeout)
        addresses = {service: getattr(client.peers, service) for service in status}
    serving = all(s == "SERVING" for s in status.values())
    if args.json:
        print_json({"serving": serving, "services": [
            {"service": s, "address": addresses[s], "state": state} for s, state in status.items()
        ]})  # fmt: skip
    else:
        for service, state in status.items():
            print(f"{service:<10} {addresses[service]:<22} {state}")
    return exits.OK if serving else exits.RETRY


def cmd_calendar(args: argparse.Namespace) -> int:
    with timeouts.client(args, _peers(args), org_id="") as client:
        frame = client.calendar(args.country, args.start, args.end, subdivision=args.subdivision)
    if not args.json:
        print(frame.to_string(index=False))
        return 0
    days = [  # dates as YYYY-MM-DD, numpy scalars as plain numbers and booleans
        {k: v.isoformat() if isinstance(v, dt.date) else getattr(v, "item", lambda v=v: v)()
         for k, v in row.items()}
        for row in frame.to_dict("records")
    ]  # fmt: skip
    print_json({"country": args.country, "subdivision": args.subdivision, "days": days})
    return 0


def cmd_certs(args: argparse.Namespace) -> int:
    from mesh.runtime.certs import make_dev_certs

    files = make_dev_certs(args.out, args.host)
    print(f"wrote {len(files)} files to {args.out.resolve()} (keys 0600):")
    for path in files:
        print(f"  {path.name}")
    print(f"serve mTLS with: liftos up --tls-dir {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mesh.cli.demo import run_demo

    return run_demo(args.data_dir, args.base_port, keep_running=args.keep_running)


# `simulate`'s line in `liftos --help`, as sim.cli registers it (tests/cli/test_startup_imports.py
# holds the two equal): importing sim loads numpy and pandas (~0.6 CPU-s), so another verb's
# parser lists it without importing sim.
SIMULATE_HELP = "generate a simulated marketing world with known causal truth"


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``verb`` (the command about to run) only that verb's parser is
    complete where completing another would load heavy modules (``simulate``)."""
    parser = argparse.ArgumentParser(prog="liftos", description="LiftOS causal mesh")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up", help="run all five services until Ctrl-C",
        description="Run all five services until Ctrl-C. Each flag left out takes the "
        "services' own environment fallback (LIFTOS_DATA_DIR, LIFTOS_HOST, LIFTOS_LOG_LEVEL, "
        "LIFTOS_<SERVICE>_PORT, LIFTOS_METRICS_PORT), as `python -m <service>_svc` does.",
    )  # fmt: skip
    # the services' flags with their env fallbacks (mesh.runtime.config), passed on to each
    add_data_dir_argument(up)
    add_host_argument(up)
    up.add_argument(
        "--base-port", type=int, default=None,
        help="services on BASE..BASE+4 (default: each LIFTOS_<SERVICE>_PORT, else 50051-50055)",
    )  # fmt: skip
    add_log_level_argument(up)
    up.add_argument(
        "--tls-dir", type=Path, default=None,
        help="certificates from `liftos certs`: TLS, and mTLS between the services",
    )  # fmt: skip
    up.add_argument(
        "--llm-url", default=None,
        help="OpenAI-compatible endpoint Explain uses (LIFTOS_LLM_URL; its API key in "
        "LIFTOS_LLM_PROVIDER_KEY, not LIFTOS_LLM_API_KEY: that is the llm service's mesh key)",
    )  # fmt: skip
    up.add_argument("--llm-model", default=None, help="its model name (LIFTOS_LLM_MODEL)")
    up.add_argument(
        "--llm-allowed-urls", default=None, metavar="URL,...",
        help="other endpoints an explain request may name (--llm-url), sent no provider key "
        "(LIFTOS_LLM_ALLOWED_URLS)",
    )  # fmt: skip
    up.add_argument(
        "--store", default=None,
        help="memory's record store: postgresql://… (LIFTOS_MEMORY_STORE; default SQLite)",
    )  # fmt: skip
    up.add_argument(
        "--replicas", type=int, default=1,
        help="processes per stateless service (ingestion, causal, llm, surfacing), replica k "
        "on its port + 100k, balanced round robin by every client",
    )  # fmt: skip
    add_metrics_port_argument(
        up,
        "Prometheus metrics: the i-th process (in start order) on this port + i (env "
        "LIFTOS_METRICS_PORT, the same base; default off)",
    )
    up.set_defaults(func=cmd_up)

    certs = sub.add_parser("certs", help="a dev CA, a server and per-service client certificates")
    certs.add_argument("--out", type=Path, required=True)
    certs.add_argument(
        "--host", action="append", default=[],
        help="another name or IP the server certificate is valid for (repeatable)",
    )  # fmt: skip
    certs.set_defaults(func=cmd_certs)

    status = sub.add_parser("status", help="health of every service")
    status.add_argument("--timeout", type=float, default=2.0)
    status.add_argument("--json", action="store_true", help="the health as one JSON document")
    _add_mesh_arguments(status)
    status.set_defaults(func=cmd_status)

    demo = sub.add_parser("demo", help="the whole mesh, end to end, on the simulated world")
    demo.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temp dir")
    _add_mesh_arguments(demo)
    demo.add_argument(
        "--keep-running", action="store_true",
        help="leave the mesh up after the demo (Ctrl-C stops it) to poke it with grpcurl",
    )  # fmt: skip
    demo.set_defaults(func=cmd_demo)

    from mesh.cli import (
        analyses,
        attribution,
        compare,
        estimate,
        explain,
        ingest,
        memory,
        products,
        registry,
        report,
        search,
        surfacing,
    )

    estimate.add_parser(sub, _add_mesh_arguments)
    attribution.add_parsers(sub, _add_mesh_arguments)
    report.add_parser(sub, _add_mesh_arguments)
    compare.add_parser(sub, _add_mesh_arguments)
    analyses.add_parser(sub, _add_mesh_arguments)
    explain.add_parsers(sub, _add_mesh_arguments)
    ingest.add_parser(sub, _add_mesh_arguments)
    surfacing.add_parsers(sub, _add_mesh_arguments)
    products.add_parsers(sub, _add_mesh_arguments)
    memory.add_parsers(sub, _add_mesh_arguments)
    registry.add_parsers(sub, _add_mesh_arguments)
    if verb in (None, "simulate"):
        from sim import cli as sim_cli

        sim_cli.register(sub)
    else:
        sub.add_parser("simulate", help=SIMULATE_HELP)
    search.register(sub)

    cal = sub.add_parser("calendar", help="calendar dimension for a country and date range")
    cal.add_argument("--country", required=True)
    cal.add_argument("--start", type=dt.date.fromisoformat, required=True)
    cal.add_argument("--end", type=dt.date.fromisoformat, required=True)
    cal.add_argument("--subdivision", default="")
    cal.add_argument("--json", action="store_true", help="the days as one JSON document")
    timeouts.add_timeout(cal)
    _add_mesh_arguments(cal)
    cal.set_defaults(func=cmd_calendar)
    _org_from_env(sub)
    return parser


def _org_from_env(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Every verb's optional ``--org`` defaults to ``LIFTOS_ORG`` where it is set, so one
    ``export LIFTOS_ORG=…`` serves a session of commands (a required ``--org`` stays required)."""
    org = os.environ.get("LIFTOS_ORG")
    if not org:
        return
    for verb in sub.choices.values():
        if any(a.dest == "org" and not a.required for a in verb._actions):
            verb.set_defaults(org=org)


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    verb = next((w for w in words if not w.startswith("-")), "")
    args = build_parser(verb).parse_args(argv)
    try:
        if args.command in ("estimate", "analyze", "counterfactual", "ingest", "explain",
                            "check-claims", "report", "compare", "analyses", "optimize", "predict", "design",
                            "recommend", "products", "analyze-products", "experiments",
                            "factors"):  # fmt: skip
            return int(args.func(args, _peers(args)))
        return int(args.func(args) or 0)
    except RpcFailure as failure:
        # its ErrorInfo reason and the request id the services logged it under (rid=); the
        # exit status by its class: refused, retry, deadline or internal (mesh.cli.exits)
        print(failure_text(failure, args), file=sys.stderr)
        return exit_status(failure)
    except PortsInUse as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the server sees CANCELLED; the user needs no traceback
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `liftos … | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
