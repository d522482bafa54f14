"""The ``simulate`` subcommand: ``liftos simulate --scenario NAME --seed N --days D --out DIR``.

``register(subparsers)`` adds it to any argparse command (the ``liftos`` CLI wires it in);
``python -m sim`` runs it alone. Progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .core import resolve, simulate
from .errors import SimError
from .io import write
from .scenarios import SCENARIOS


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "simulate",
        help="generate a simulated marketing world with known causal truth",
        description="Write a simulated marketing world: each platform's raw export, the "
        "first-party orders, the experiment registry, the org's external series and the causal "
        "truth (truth.json). Same seed, same bytes.",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default="demo", help="scenario name (see --list)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--days", type=int, default=None, help="override the scenario's length")
    p.add_argument("--out", default=None, help="output directory")
    p.add_argument("--geos", type=int, default=None, dest="n_geos", help="number of states")
    p.add_argument(
        "--campaigns", type=int, default=None, dest="n_campaigns", help="campaigns per org"
    )
    p.add_argument("--orgs", type=int, default=None, dest="n_orgs")
    p.add_argument(
        "--confounding", type=float, default=None, help="elasticity of budgets to demand (0 = none)"
    )
    p.add_argument("--no-dirt", action="store_true", help="clean exports only")
    p.add_argument(
        "--products",
        type=int,
        default=None,
        help="product categories of the product layer (0 = off; scenario 'products' has 5)",
    )
    p.add_argument("--list", action="store_true", help="list scenarios and exit")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    start = time.perf_counter()

    def report(stage: str, frac: float) -> None:
        if not quiet:
            print(
                f"\r[{time.perf_counter() - start:6.1f}s] {stage:<24} {frac:6.1%}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    return report


def run(args: argparse.Namespace) -> int:
    """Handle ``simulate``: write the files and print a summary; 2 on a bad request."""
    if args.list:
        width = max(map(len, SCENARIOS))
        for name, sc in SCENARIOS.items():
            print(f"{name:<{width}}  {sc.days:>4}d {sc.n_geos:>2} geos  {sc.description}")
        return 0
    if not args.out:
        print("simulate: --out is required", file=sys.stderr)
        return 2
    try:
        resolve(
            args.scenario,
            days=args.days,
            n_geos=args.n_geos,
            n_campaigns=args.n_campaigns,
            n_orgs=args.n_orgs,
            products=getattr(args, "products", None),
        )
        report = _progress(args.quiet)
        result = simulate(
            args.scenario,
            seed=args.seed,
            days=args.days,
            n_geos=args.n_geos,
            n_campaigns=args.n_campaigns,
            n_orgs=args.n_orgs,
            confounding=args.confounding,
            dirt=not args.no_dirt,
            progress=report,
            products=getattr(args, "products", None),
        )
        sizes = write(result, args.out, progress=report)
    except SimError as exc:
        print(f"simulate: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(file=sys.stderr)
    t = result.truth
    print(
        f"scenario {result.scenario} seed {result.seed}: {t['days']} days from {t['start']}, "
        f"{len(t['geos'])} geos, {len(t['orgs'])} org(s), {len(result.panel):,} panel rows"
    )
    for name, size in sorted(sizes.items()):
        print(f"  {Path(args.out) / name}  {size:,} bytes")
    print(f"  dirty rows listed: {len(t['dirty_rows']):,}; experiments: {len(result.experiments)}")
    if t["study"]:
        s = t["study"]
        print(
            f"  study: {s['design']} ({s['method_hint']}), true {s['estimand']} = "
            f"{s['true_effect']:.4f} {s['units']}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))
