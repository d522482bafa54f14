"""`liftos analyses [--kind K] [--limit N] [--json]`: the org's stored analyses, newest first;
`liftos analyses delete ID... | --all --org ORG [--dry-run] [--yes]` deletes them.

Finding last week's analysis to compare with this week's (audit R5-F5) took an id remembered
from a terminal: ListAnalyses now says what each analysis read (its window and record count,
and a fingerprint of its inputs: R33-F4), and this lists them, so two runs over the same
window can be told apart from two windows, and two runs on different data from one another.

An analysis keeps the campaign ids, names and spend it read, so erasing an account's records
leaves them there (audit R40-F1): `delete` removes analyses with their fitted models, counted
first and asked for at a terminal as `liftos memory delete` does; an id the org has no analysis
of exits 1 (a typo must not read as erased).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from typing import Any

from liftos_dc.liftos.v1 import AnalysisKind, AnalysisSummary, DateRange, EstimationMethod

from mesh.cli.json_out import dumps, rfc3339
from mesh.runtime.analysis_compare import iso_date
from mesh.sdk.client import LiftOS

# the listing prints a kind as "effect_estimate"; typing what it shows works too (R12-F14)
_KINDS = {
    "attribution": "attribution", "products": "products", "estimate": "effect_estimate",
    "effect_estimate": "effect_estimate",
}  # fmt: skip


def add_parser(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "analyses",
        help="the org's stored analyses, newest first: id, kind, when made, the data window and "
        "record count (what `liftos compare` and `liftos explain --question` take)",
    )
    p.add_argument("--org", default=None, help="the org (default: 'default')")
    p.add_argument("--kind", choices=sorted(_KINDS), default="", help="only this kind")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per analysis")
    common(p)
    p.set_defaults(func=run)
    verbs = p.add_subparsers(dest="analyses_verb", metavar="{delete}")
    rm = verbs.add_parser(
        "delete",
        help="delete stored analyses (IDs, or --all of the org) with their fitted models: an "
        "analysis keeps the campaign ids, names and spend it read (asks first; --dry-run lists "
        "only)",
    )
    rm.add_argument("ids", nargs="*", metavar="ID", help="the analyses to delete")
    rm.add_argument("--all", dest="all_analyses", action="store_true",
                    help="every stored analysis of the org (instead of IDs)")  # fmt: skip
    rm.add_argument("--org", help="the org (default LIFTOS_ORG; required for a delete)")
    rm.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    rm.add_argument("--yes", action="store_true", help="delete without asking")
    common(rm)
    # argparse lets a subparser's defaults overwrite what the parent parsed, so a flag written
    # before `delete` (`liftos analyses --org A --host H delete --all`) was replaced by
    # LIFTOS_ORG or the default mesh (V2-F1): the delete's copies of the parent's flags set a
    # value only when given after `delete`.
    shared = {a.dest for a in p._actions}
    for action in rm._actions:
        if action.dest in shared and action.dest != "help":
            action.default = argparse.SUPPRESS
    rm.set_defaults(func=run_delete)


def _window(r: DateRange | None) -> tuple[str, str]:
    return (iso_date(r.start_date), iso_date(r.end_date)) if r is not None else ("", "")


def row(a: AnalysisSummary) -> dict[str, Any]:
    """One analysis as the listing shows it (JSON-ready)."""
    start, end = _window(a.date_range)
    # RFC 3339 to the stored microsecond, as analyze --json's createTime (R41-F6: minute
    # precision, so three analyses made in one minute could not be ordered)
    made = rfc3339(a.create_time)
    kind = AnalysisKind(a.kind).name.removeprefix("ANALYSIS_KIND_").lower()
    about = f"outcome: {a.outcome}" if a.kind == AnalysisKind.ATTRIBUTION and a.outcome else ""
    if a.kind == AnalysisKind.EFFECT_ESTIMATE:
        method = EstimationMethod(a.method).name.removeprefix("ESTIMATION_METHOD_").lower()
        about = f"{method}: {a.treatment} -> {a.outcome}" + (
            "" if a.supported else " (unsupported)"
        )
    return {
        "analysis_id": a.analysis_id,
        "kind": kind,
        "made": made,
        "start": start,
        "end": end,
        "records": a.record_count,
        "data": a.data_version or "",
        "about": about,
    }


def lines(rows: list[dict[str, Any]]) -> list[str]:
    """The listing as the terminal shows it."""
    if not rows:
        return ["no stored analyses"]
    # data: the fingerprint of the inputs read, shortened (R33-F4): two analyses of one window
    # and record count on different data states list apart
    out = [f"{'analysis':<24}  {'kind':<15}  {'made':<23}  {'window':<22}  {'records':>9}  "
           f"{'data':<8}  about"]  # fmt: skip
    for r in rows:
        window = f"{r['start'] or '…'}..{r['end'] or '…'}" if r["start"] or r["end"] else "—"
        records = f"{r['records']:,}" if r["records"] is not None else "—"
        data = short_version(r.get("data", ""))
        made = made_text(r["made"])
        out.append(f"{r['analysis_id']:<24}  {r['kind']:<15}  {made:<23}  {window:<22}  "
                   f"{records:>9}  {data:<8}  {r['about']}".rstrip())  # fmt: skip
    return out


def made_text(made: str) -> str:
    """An RFC 3339 UTC time (:func:`mesh.cli.json_out.rfc3339`) as the listing shows it, to the
    second: ``2026-12-07 16:42:31 UTC``."""
    return f"{made[:10]} {made[11:19]} UTC" if made else ""


def short_version(data_version: str) -> str:
    """A data version as the listing shows it: the hash's first 8 digits ("—": none kept)."""
    return data_version.partition(":")[2][:8] if data_version else "—"


def run(args: argparse.Namespace, peers: Any) -> int:
    if args.limit < 1:
        raise SystemExit("error: --limit must be at least 1")
    with LiftOS(peers, org_id=args.org or "default") as client:
        listed = client.list_analyses(
            kind=_KINDS.get(args.kind, ""), page_size=min(args.limit, 100)
        )
        rows = [row(a) for a in itertools.islice(listed, args.limit)]
    if args.json:
        for r in rows:  # JSON Lines, one analysis a line, through the one writer
            print(dumps(r, indent=None))
    else:
        print("\n".join(lines(rows)))
    return 0


def _deleted_lines(ids: list[str], org: str, verb: str) -> list[str]:
    return [f"{verb} {len(ids):,} stored analyses of org {org} (with their fitted models)"
            + (":" if ids else "")] + [f"  {i}" for i in ids]  # fmt: skip


def _not_found(ids: list[str], org: str) -> int:
    """Exit 1 naming the ids the org has no analysis of (a typo, or deleted before)."""
    print(f"error: org {org} has no stored analysis {', '.join(ids)} (`liftos analyses --org "
          f"{org}` lists them; one deleted before is not stored either)", file=sys.stderr)  # fmt: skip
    return 1


def run_delete(args: argparse.Namespace, peers: Any) -> int:
    from mesh.cli.memory_accounts import _confirmed

    if args.all_analyses == bool(args.ids):
        print("error: name the analyses to delete (IDs from `liftos analyses`) or --all for "
              "every analysis of the org, not both", file=sys.stderr)  # fmt: skip
        return 2
    ids, every = list(args.ids), args.all_analyses
    # named, never the list's "default": an erasure goes to the org the user wrote
    args.org = args.org or os.environ.get("LIFTOS_ORG") or None
    if args.org is None:
        print("error: liftos analyses delete: --org is required (or LIFTOS_ORG)", file=sys.stderr)
        return 2
    with LiftOS(peers, org_id=args.org) as client:
        if args.dry_run or not args.yes:
            counted = client.delete_analyses(ids, all_analyses=every, dry_run=True)
            print("\n".join(_deleted_lines(list(counted.deleted_ids), args.org, "would delete")))
            missing = list(counted.not_found)
            if args.dry_run or not counted.deleted_ids:
                return _not_found(missing, args.org) if missing else 0
            if not _confirmed(args.org):
                print("not deleted: re-run with --yes to delete them", file=sys.stderr)
                return 1
        done = client.delete_analyses(ids, all_analyses=every)
    print("\n".join(_deleted_lines(list(done.deleted_ids), args.org, "deleted")))
    return _not_found(list(done.not_found), args.org) if done.not_found else 0
