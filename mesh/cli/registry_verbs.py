"""``liftos experiments delete`` / ``liftos factors delete`` (an org's registry erased, audit
R40 F2) and the ``--json`` of ``experiments list`` / ``factors list`` (R41 F7): one JSON
object a line, ids as strings, dates as ISO text, a number that is absent or not finite as
null.

A delete without ``--yes`` lists what it would delete and asks for the org id at a terminal
(as ``liftos memory delete``); elsewhere it stops there and exits 1. Ids or names the org has
not registered are deleted from nothing: the ones it has are deleted, and the command exits 1
naming the missing ones with the registered ids spelled alike, as ``memory delete`` and
``analyses delete`` do (a typo must not read as erased, R40-F5, s19 V2-F3); so does the same
delete run again after one that succeeded (its ids are no longer registered). ``--all`` of
an org with nothing registered exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.cli.memory_accounts import _confirmed, spelled_alike
from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS, dc

__all__ = ["add_delete_parsers", "experiment_json", "factor_json", "print_json_lines"]

# How many of the org's registered ids a not-found line offers.
_OFFERED = 10


def add_delete_parsers(
    experiments: argparse._SubParsersAction[argparse.ArgumentParser],
    factors: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """The two ``delete`` verbs (the caller adds --org and the mesh's arguments)."""
    out = []
    for verbs, what, name, func in (
        (experiments, "experiments", "experiment_id", cmd_experiments_delete),
        (factors, "factors", "name", cmd_factors_delete),
    ):
        p = verbs.add_parser(
            "delete",
            help=f"delete registered {what} of the org (by {name.replace('_', ' ')}, or --all); "
            "needs a key with records.delete",
        )
        p.add_argument(name, nargs="*", help=f"the {what} to delete")
        p.add_argument("--all", action="store_true", help=f"every registered {what[:-1]}")
        p.add_argument("--yes", action="store_true", help="delete without asking")
        p.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
        p.set_defaults(func=func)
        out.append(p)
    return out


def _named(args: argparse.Namespace, named: Sequence[str], what: str) -> str:
    """Why the request cannot be sent ("" when it can)."""
    if args.all and named:
        return f"name {what} or give --all, not both"
    if not args.all and not named:
        return f"name the {what} to delete (or --all for every one of the org)"
    return ""


def _delete(
    args: argparse.Namespace,
    org: str,
    named: Sequence[str],
    what: str,
    call: Callable[[bool], tuple[list[str], list[str], str]],
    registered: Callable[[], list[str]],
) -> int:
    """A dry run first unless --yes, then the delete; ``call(dry_run)`` answers (deleted,
    not found, a note on the count)."""
    if problem := _named(args, named, what):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.dry_run or not args.yes:
        would, missing, extra = call(True)
        _said("would delete", would, missing, what, org, extra, registered)
        if args.dry_run or not would:
            return 1 if missing else 0
        if not _confirmed(org):
            print("not deleted: re-run with --yes to delete them", file=sys.stderr)
            return 1
    deleted, missing, extra = call(False)
    _said("deleted", deleted, missing, what, org, extra, registered)
    return 1 if missing else 0


def _said(
    verb: str,
    names: list[str],
    missing: list[str],
    what: str,
    org: str,
    extra: str,
    registered: Callable[[], list[str]],
) -> None:
    listed = f": {', '.join(names)}" if names else ""
    print(f"{verb} {len(names):,} {what}{extra} of org {org}{listed}")
    if missing:
        held = registered()
        offer = ", ".join(held[:_OFFERED]) + (", …" if len(held) > _OFFERED else "")
        alike = sorted({h for x in missing for h in held if spelled_alike(x, h, near=True)})
        print(
            f"error: not registered in org {org}: {', '.join(missing)} "
            + (f"(spelled alike: {', '.join(alike)}; " if alike else "(")
            + (f"the org registers {offer})" if held else "the org registers none)")
            + "; one deleted before is not registered either",
            file=sys.stderr,
        )


def cmd_experiments_delete(args: argparse.Namespace, peers: PeerConfig) -> int:
    from mesh.cli.registry import _org

    org = _org(args)
    with LiftOS(peers, org_id=org) as client:

        def call(dry_run: bool) -> tuple[list[str], list[str], str]:
            reply = client.delete_experiments(
                args.experiment_id, all_experiments=args.all, dry_run=dry_run
            )
            return list(reply.deleted_ids), list(reply.not_found), ""

        def registered() -> list[str]:
            return sorted(e.experiment_id for e in client.list_experiments())

        return _delete(args, org, args.experiment_id, "experiments", call, registered)


def cmd_factors_delete(args: argparse.Namespace, peers: PeerConfig) -> int:
    from mesh.cli.registry import _org

    org = _org(args)
    with LiftOS(peers, org_id=org) as client:

        def call(dry_run: bool) -> tuple[list[str], list[str], str]:
            reply = client.delete_external_factors(args.name, all_factors=args.all, dry_run=dry_run)
            series = f" ({reply.series_count:,} series)" if reply.series_count else ""
            return list(reply.deleted_names), list(reply.not_found), series

        def registered() -> list[str]:
            return sorted({s.name for s in client.list_external_factors()})

        return _delete(args, org, args.name, "factors", call, registered)


def _iso(date: Any) -> str | None:
    """A dc.Date or common_pb Date as ISO text (None: unset)."""
    if date is None or not date.year:
        return None
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _enum(value: Any, prefix: str) -> str | None:
    name = getattr(value, "name", None) or ""
    return None if name.endswith("UNSPECIFIED") or not name else name.removeprefix(prefix).lower()


def experiment_json(e: dc.CausalExperiment) -> dict[str, Any]:
    """One listed experiment, with its recorded result (null: none recorded)."""
    r = e.result
    result = None
    if r is not None:
        window = r.window
        result = {
            "analysis_id": r.analysis_id or None,
            "channel": r.channel or None,
            "metric": _enum(r.metric, "OUTCOME_METRIC_"),
            "window_start": _iso(window.start_date) if window is not None else None,
            "window_end": _iso(window.end_date) if window is not None else None,
            "lift_absolute": _number(r.lift_absolute),
            "lift_std_error": _number(r.lift_std_error),
            "spend_delta": _number(r.spend_delta),
            "spend_baseline": _number(r.spend_baseline),
            "treatment_unit_count": r.treatment_unit_count,
            "control_unit_count": r.control_unit_count,
        }
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "status": _enum(e.status, "EXPERIMENT_STATUS_"),
        "channel": e.channel or None,
        "start_date": _iso(e.start_date),
        "end_date": _iso(e.end_date),
        "pre_period_start": _iso(e.pre_period_start),
        "randomization_unit": _enum(e.randomization_unit, "RANDOMIZATION_UNIT_"),
        "treatment_units": list(e.treatment_units),
        "control_units": list(e.control_units),
        "campaign_ids": [str(c) for c in e.campaign_ids],
        "result": result,
    }


def factor_json(s: Any) -> dict[str, Any]:
    """One listed series (an ExternalFactorSeries read with its values)."""
    days = sorted(_iso(v.date) or "" for v in s.values)
    return {
        "name": s.name,
        "type": md_pb.ExternalFactorType.Name(s.type).removeprefix("EXTERNAL_FACTOR_TYPE_").lower(),
        "geo": s.geo or None,  # null: the series holds for every geo
        "unit": s.unit,
        "source": s.source,
        "first_date": days[0] if days else None,
        "last_date": days[-1] if days else None,
        "value_count": len(days),
    }


def print_json_lines(rows: Iterable[dict[str, Any]]) -> None:
    """One object a line; a non-finite number would be a bug above, so it raises."""
    for row in rows:
        print(json.dumps(row, allow_nan=False, ensure_ascii=False))
