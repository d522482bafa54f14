"""`liftos memory accounts --org ORG` and `liftos memory delete --org ORG [--source S]
[--account-id A] [--start D] [--end D] [--all-records] [--dry-run] [--yes]`.

An agency offboarding a client, an erasure request, an account ingested into the wrong org or
twice (audit R31 F1): `accounts` lists what the org holds per (source, account), `delete`
removes the chosen records and everything memory derived from them, then has ingestion forget
the org's acked batches so the same export sent again is written again. Without ``--yes`` the
deletion is counted first (a dry run) and asked for at a terminal; elsewhere it is refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Any

# the CLI stays free of pandas / numpy at start: the SDK is imported when a verb runs


def add_parsers(verbs: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    org = os.environ.get("LIFTOS_ORG") or None
    acc = verbs.add_parser(
        "accounts",
        help="the ad accounts an org's records come from: records, dates, currencies, channels",
    )
    acc.add_argument("--org", default=org, required=org is None)
    common(acc)
    acc.set_defaults(func=cmd_accounts)
    rm = verbs.add_parser(
        "delete",
        help="delete an org's records of a source / account / date range (asks first; "
        "--dry-run counts only)",
    )
    rm.add_argument("--org", default=org, required=org is None)
    rm.add_argument("--source", default=None, help="only this source (meta, google_ads, …)")
    rm.add_argument("--account-id", default=None, help="only this ad account ('' for none)")
    rm.add_argument("--start", type=dt.date.fromisoformat, default=None,
                    help="only local dates from this one (YYYY-MM-DD, inclusive)")  # fmt: skip
    rm.add_argument("--end", type=dt.date.fromisoformat, default=None,
                    help="only local dates up to this one (inclusive)")  # fmt: skip
    rm.add_argument("--all-records", action="store_true",
                    help="every record of the org (only without the filters above)")  # fmt: skip
    rm.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    rm.add_argument("--yes", action="store_true", help="delete without asking")
    common(rm)
    rm.set_defaults(func=cmd_delete)


def _client(args: argparse.Namespace) -> Any:
    from mesh.cli.commands import _peers  # the parser's module: imported once it has run
    from mesh.sdk.client import LiftOS

    return LiftOS(_peers(args), org_id=args.org)


def _date(d: Any) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d is not None else ""


def _source(value: int) -> str:
    from liftos.v1 import common_pb2 as common_pb

    return (
        common_pb.DataSource.DESCRIPTOR.values_by_number[value]
        .name.removeprefix("DATA_SOURCE_")
        .lower()
    )


def account_lines(accounts: list[Any]) -> list[str]:
    """The accounts as a table (dc.AccountRecords: listed, or deleted)."""
    head = (f"{'source':<20}  {'account':<24}  {'records':>9}  {'first':<10}  {'last':<10}  "
            "currencies  channels")  # fmt: skip
    out = [head]
    for a in accounts:
        account = a.account_id if a.account_id else "(none)"
        out.append(
            f"{_source(a.source):<20}  {account:<24}  {a.record_count:>9,}  "
            f"{_date(a.first_date):<10}  {_date(a.last_date):<10}  "
            f"{', '.join(c or '(none)' for c in a.currencies):<10}  {', '.join(a.channels)}"
        )
    return out


def cmd_accounts(args: argparse.Namespace) -> int:
    with _client(args) as client:
        accounts = client.list_accounts()
    print("\n".join(account_lines(accounts)))
    total = sum(a.record_count for a in accounts)
    print(f"{total:,} records in {len(accounts)} accounts of org {args.org}")
    return 0


def _counted(reply: Any, org: str, verb: str) -> list[str]:
    history = f" and {reply.history_count:,} replaced versions" if reply.history_count else ""
    lines = [f"{verb} {reply.deleted_count:,} records{history} of org {org}:"]
    return lines + account_lines(list(reply.accounts)) if reply.accounts else lines


def _confirmed(org: str) -> bool:
    """Whether the user at a terminal types the org id to confirm (never elsewhere)."""
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(f"type the org id ({org}) to delete them, anything else to keep them: ")
    except EOFError:
        return False
    return answer.strip() == org


def cmd_delete(args: argparse.Namespace) -> int:
    from mesh.sdk.memory import LedgerNotForgotten

    named = [args.source, args.account_id, args.start, args.end]
    if all(v is None for v in named) and not args.all_records:
        print("error: name the records to delete: --source, --account-id, --start/--end "
              "(or --all-records for every record of the org)", file=sys.stderr)  # fmt: skip
        return 2
    kwargs = {
        "source": args.source, "account_id": args.account_id, "start": args.start,
        "end": args.end, "all_records": args.all_records,
    }  # fmt: skip
    with _client(args) as client:
        if args.dry_run or not args.yes:
            counted = client.delete_records(dry_run=True, **kwargs)
            print("\n".join(_counted(counted, args.org, "would delete")))
            if args.dry_run or not counted.deleted_count:
                return 0
            if not _confirmed(args.org):
                print("not deleted: re-run with --yes to delete them", file=sys.stderr)
                return 1
        try:
            done = client.delete_records(**kwargs)
        except LedgerNotForgotten as failure:  # the records are gone: say so, then what failed
            if failure.deleted is not None:
                print("\n".join(_counted(failure.deleted, args.org, "deleted")))
            print(f"error: {failure}", file=sys.stderr)
            return 1
    print("\n".join(_counted(done, args.org, "deleted")))
    print(f"org {args.org} now holds {done.org_record_count:,} records; ingestion's ledger "
          "forgot its batches, so an export sent again is written again")  # fmt: skip
    return 0
