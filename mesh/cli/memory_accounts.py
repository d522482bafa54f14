"""`liftos memory accounts --org ORG` and `liftos memory delete --org ORG [--source S]
[--account-id A] [--start D] [--end D] [--all-records] [--dry-run] [--yes]`.

An agency offboarding a client, an erasure request, an account ingested into the wrong org or
twice (audit R31 F1): `accounts` lists what the org holds per (source, account), `delete`
removes the chosen records and everything memory derived from them, then has ingestion forget
the org's acked batches so the same export sent again is written again. Without ``--yes`` the
deletion is counted first (a dry run) and asked for at a terminal; elsewhere it is refused.

A delete that matches no record exits 1 naming the org's accounts spelled alike (R40-F5: an id
pasted with a trailing space, or the wrong --source, erased nothing and said "deleted 0").
After a delete (and a dry run) it says what still holds data derived from those records
(R40-F1/F2): the org's stored analyses whose window overlaps the deleted days, with the command
that deletes them, and after an org-wide delete its experiments and external-factor series.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from difflib import SequenceMatcher
from typing import Any

# the CLI stays free of pandas / numpy at start: the SDK is imported when a verb runs


def add_parsers(verbs: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    org = os.environ.get("LIFTOS_ORG") or None
    acc = verbs.add_parser(
        "accounts",
        help="the ad accounts an org's records come from: records, dates, currencies, channels",
    )
    acc.add_argument("--org", default=org, required=org is None)
    acc.add_argument("--json", action="store_true",
                     help="one JSON document: the org's record count and each account's records, "
                     "first and last day (YYYY-MM-DD), currencies and channels")  # fmt: skip
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


def account_json(a: Any) -> dict[str, Any]:
    """One account (dc.AccountRecords) as ``memory accounts --json`` writes it: the message's
    field names, the source as the table's word, days as YYYY-MM-DD ("" where none)."""
    return {
        "source": _source(a.source), "account_id": a.account_id, "record_count": a.record_count,
        "first_date": _date(a.first_date), "last_date": _date(a.last_date),
        "currencies": list(a.currencies), "channels": list(a.channels),
    }  # fmt: skip


def cmd_accounts(args: argparse.Namespace) -> int:
    from mesh.cli.json_out import print_json

    with _client(args) as client:
        accounts = client.list_accounts()
    if args.json:
        # the freshness check of a scheduled job (R41-F7): last_date per account, no
        # screen-scraping of "2,400" and aligned columns
        print_json({"org_id": args.org, "record_count": sum(a.record_count for a in accounts),
                    "accounts": [account_json(a) for a in accounts]})  # fmt: skip
        return 0
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


def _days(d: Any) -> dt.date | None:
    return dt.date(d.year, d.month, d.day) if d is not None and d.year else None


def _span(accounts: list[Any]) -> tuple[dt.date | None, dt.date | None]:
    """The first and last local day of the deleted accounts' records."""
    firsts = [f for a in accounts if (f := _days(a.first_date)) is not None]
    lasts = [x for a in accounts if (x := _days(a.last_date)) is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _overlaps(window: Any, first: dt.date | None, last: dt.date | None) -> bool:
    """Whether an analysis's data window (open ends: every day) meets [first, last]."""
    start = _days(window.start_date) if window is not None else None
    end = _days(window.end_date) if window is not None else None
    return (last is None or start is None or start <= last) and (
        first is None or end is None or end >= first
    )


def still_held(
    client: Any, org: str, deleted: Any, everything: bool, kept_word: str = "kept"
) -> list[str]:
    """What keeps data derived from the deleted records: the org's stored analyses that read
    records over the deleted days (an inline-table estimate read none), and after an org-wide
    delete its registered experiments and external-factor series, each with the command that
    deletes it. A service that cannot be asked is said, not raised: the records are gone."""
    from mesh.sdk.failures import RpcFailure

    first, last = (None, None) if everything else _span(list(deleted.accounts))
    out: list[str] = []
    try:
        kept = [a for a in client.list_analyses(page_size=100)
                if a.date_range is not None and _overlaps(a.date_range, first, last)]  # fmt: skip
    except RpcFailure as failure:
        out.append(f"note: the org's stored analyses could not be listed ({failure.code}: "
                   f"{failure.message}); an analysis keeps the campaign ids, names and spend it "
                   f"read: `liftos analyses --org {org}` lists them")  # fmt: skip
        kept = []
    if kept:
        days = "every day" if everything else f"{_date(first) or '…'}..{_date(last) or '…'}"
        out.append(f"{kept_word}: {len(kept):,} stored analyses of org {org}, which read records "
                   f"of {days} and keep the campaign ids, names and spend they read:")  # fmt: skip
        out += [f"  {a.analysis_id}  {_date(a.date_range.start_date) or '…'}.."
                f"{_date(a.date_range.end_date) or '…'}" for a in kept]  # fmt: skip
        ids = "--all" if everything else " ".join(a.analysis_id for a in kept)
        out.append(f"  delete them: liftos analyses delete --org {org} {ids}")
    if everything:
        out += _registry_kept(client, org, kept_word)
    return out


def _registry_kept(client: Any, org: str, kept_word: str) -> list[str]:
    """The org's experiments and factor series (ingestion's registry), which an org-wide
    delete of records leaves, with the commands that delete them."""
    from mesh.sdk.failures import RpcFailure

    try:
        counts = [len(list(client.list_experiments())), len(client.list_external_factors())]
    except RpcFailure as failure:
        return [f"note: ingestion's registry could not be asked ({failure.code}); the org's "
                f"experiments and external-factor series are kept: `liftos experiments delete "
                f"--org {org} --all` and `liftos factors delete --org {org} --all` delete "
                "them"]  # fmt: skip
    out = []
    for n, what, verb in ((counts[0], "registered experiments", "experiments"),
                          (counts[1], "external-factor series", "factors")):  # fmt: skip
        if n:
            out.append(f"{kept_word}: {n:,} {what} of org {org}: liftos {verb} delete --org "
                       f"{org} --all")  # fmt: skip
    return out


def spelled_alike(typed: str, held: str, *, near: bool = False) -> bool:
    """Whether ``held`` is an id the user may have meant by ``typed``: the CLI's one rule,
    for the deletes that matched nothing. The same after trimming and case folding; with
    ``near`` (the registry's experiment and factor ids), also one a prefix of the other
    (``e1_typo``, ``e1``) or close in spelling (``ccl``, ``cci``). Memory's delete offers
    only the first, as before the two rules were one (near account ids would change what
    its message offers)."""
    a, b = typed.strip().casefold(), held.strip().casefold()
    if not near:
        return a == b
    if not a or not b:
        return False
    return a.startswith(b) or b.startswith(a) or SequenceMatcher(None, a, b).ratio() >= 0.6


def no_match(client: Any, args: argparse.Namespace) -> list[str]:
    """Why a delete matched no record: the filters as typed and the org's accounts spelled
    alike (account id equal after trimming and case folding, of any source), else where the
    org's accounts are listed."""
    from mesh.sdk.failures import RpcFailure

    typed = " ".join(f"--{k.replace('_', '-')} {v!r}" for k, v in (
        ("source", args.source), ("account_id", args.account_id),
        ("start", _date(args.start)), ("end", _date(args.end))) if v)  # fmt: skip
    head = f"error: no record of org {args.org} matches {typed or '--all-records'}"
    try:
        accounts = client.list_accounts()
    except RpcFailure as failure:
        return [f"{head}; its accounts could not be listed ({failure.code}: {failure.message})"]
    alike = [a for a in accounts
             if args.account_id is not None and spelled_alike(args.account_id, a.account_id)]  # fmt: skip
    if not alike and args.account_id is None and args.source is not None:
        alike = list(accounts)  # a source the org has no records of: every account it has
    if not alike:
        return [f"{head}; `liftos memory accounts --org {args.org}` lists its "
                f"{len(accounts):,} accounts"]  # fmt: skip
    out = [f"{head}; the org holds:"]
    for a in alike:
        days = f"{_date(a.first_date)}..{_date(a.last_date)}"
        out.append(f"  --source {_source(a.source)} --account-id {a.account_id!r}  "
                   f"({a.record_count:,} records, {days})")  # fmt: skip
    return out


def cmd_delete(args: argparse.Namespace) -> int:
    from mesh.cli.exits import exit_status
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
    everything = args.all_records
    with _client(args) as client:
        if args.dry_run or not args.yes:
            counted = client.delete_records(dry_run=True, **kwargs)
            print("\n".join(_counted(counted, args.org, "would delete")))
            if not counted.deleted_count:
                print("\n".join(no_match(client, args)), file=sys.stderr)
                return 1
            if args.dry_run:
                print("\n".join(still_held(client, args.org, counted, everything, "would keep")))
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
            # by ForgetBatches' code: UNAVAILABLE is RETRY (4), the "run it again" the message
            # says, which a scheduler reading the exit table retries (1 before s19 V2-F3)
            return exit_status(failure)
        print("\n".join(_counted(done, args.org, "deleted")))
        print(f"org {args.org} now holds {done.org_record_count:,} records; ingestion's ledger "
              "forgot its batches, so an export sent again is written again")  # fmt: skip
        if not done.deleted_count:  # (the ledger was told all the same: a re-run after its failure)
            print("\n".join(no_match(client, args)), file=sys.stderr)
            return 1
        print("\n".join(still_held(client, args.org, done, everything)))
    return 0
