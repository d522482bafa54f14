"""An org's records by ad account: which (source, account) pairs it holds (ListAccounts), and
which of its records a deletion takes (DeleteRecords) — queries on ``measures``, whose
``account_id`` column (CausalMarketingData.account_id, "" for a record that names none) every
write fills, indexed by :data:`INDEX`.

Before the column (SQLite schema of s18, PostgreSQL migration 7) the account was read from
every candidate record's payload: ~3 s to list 100,000 records, ~6 s to delete 50,000 of them
with writes waiting. A store from before gets the column and fills it from the payloads
once when it opens (``backfill_accounts``; ``DecodeAccounts`` reads them, as the domain never
parses protobuf).

The column's "" means "not known", not "no account": a build that does not know the column
writes "" after that fill (a replica not yet upgraded on a shared PostgreSQL database, a rolled
back SQLite build), and a one-off fill never revisits those rows. So both questions read the
accounts of the org's "" rows from their payloads (:data:`UNKNOWN`: an index range, normally
only the records that name no account), and a deletion writes the ones it finds into the
column first (:func:`unknown_found`), inside its write transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ACCOUNTS",
    "INDEX",
    "LISTED",
    "UNKNOWN",
    "AccountSummary",
    "DecodeAccounts",
    "Deletion",
    "DeletionFilter",
    "audit_text",
    "chosen_sql",
    "listed",
    "summaries",
    "unknown_found",
]

# The account_id of each payload, in order (the backfill's reader of stored records).
DecodeAccounts = Callable[[list[bytes]], list[str]]

# One index for both questions: an org's rows in (account, source, day) order are a range
# for a deletion by account (with its source and days), and ListAccounts reads the org's
# range of it. Created once the column exists (an older database gets it added first).
INDEX = "CREATE INDEX IF NOT EXISTS measures_account ON measures (org_id, account_id, source, day)"

# Per (source, account, currency, channel) of the measures rows ``{where}`` picks: records,
# first and last day; :func:`summaries` folds currencies and channels into each account.
ACCOUNTS = (
    "SELECT m.source, m.account_id, m.currency, m.channel, COUNT(*), MIN(m.day), MAX(m.day) "
    "FROM measures m WHERE {where} GROUP BY m.source, m.account_id, m.currency, m.channel"
)


@dataclass(frozen=True, slots=True)
class DeletionFilter:
    """Which of an org's records a deletion takes: every set field must match (None: any).
    Days are local dates as days since 1970-01-01, both ends inclusive."""

    source: str | None = None
    account_id: str | None = None
    start_day: int | None = None
    end_day: int | None = None

    def is_empty(self) -> bool:
        return self == DeletionFilter()


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One (source, account)'s records: count, first and last local day, currencies and
    channels (sorted)."""

    source: str
    account_id: str
    record_count: int
    first_day: int
    last_day: int
    currencies: tuple[str, ...]
    channels: tuple[str, ...]


@dataclass(slots=True)
class _Account:
    count: int = 0
    first: int = 2**62
    last: int = -(2**62)
    currencies: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)


# The org's rows whose column is "" (not known): seq and the payload their account is read
# from; ``{mark}``: the store's parameter marker. An index range (``INDEX``).
UNKNOWN = (
    "SELECT m.seq, p.payload FROM measures m JOIN payloads p ON p.seq = m.seq "
    "WHERE m.org_id = {mark} AND m.account_id = ''"
)

# ListAccounts in one statement (one snapshot): ACCOUNTS' rows of the org's known accounts,
# then one row per "" row with its payload (the 8th column; NULL on the grouped rows).
LISTED = (
    "SELECT m.source, m.account_id, m.currency, m.channel, COUNT(*), MIN(m.day), MAX(m.day), "
    "NULL FROM measures m WHERE m.org_id = {mark} AND m.account_id <> '' "
    "GROUP BY m.source, m.account_id, m.currency, m.channel "
    "UNION ALL SELECT m.source, m.account_id, m.currency, m.channel, 1, m.day, m.day, p.payload "
    "FROM measures m JOIN payloads p ON p.seq = m.seq "
    "WHERE m.org_id = {mark} AND m.account_id = ''"
)


def listed(
    rows: Iterable[tuple[object, ...]], decode: DecodeAccounts | None
) -> list[AccountSummary]:
    """The accounts of :data:`LISTED`'s rows, each "" row under the account its payload
    names (``decode``; None: under "", the column as it stands)."""
    known: list[tuple[object, ...]] = []
    unknown: list[tuple[object, ...]] = []
    for r in rows:
        if r[7] is None:
            known.append(r[:7])
        else:
            unknown.append(r)
    names = _decoded([r[7] for r in unknown], decode)
    known += [(*r[:1], name, *r[2:7]) for r, name in zip(unknown, names, strict=True)]
    return summaries(known)


def unknown_found(
    unknown: list[tuple[object, ...]], decode: DecodeAccounts | None
) -> list[tuple[str, int]]:
    """(account, seq) of :data:`UNKNOWN`'s rows whose payload names an account: what the
    column should hold for them."""
    names = _decoded([r[1] for r in unknown], decode)
    return [(name, int(r[0])) for r, name in zip(unknown, names, strict=True) if name]  # type: ignore[call-overload]


def _decoded(payloads: list[object], decode: DecodeAccounts | None) -> list[str]:
    if not payloads:
        return []
    if decode is None:
        return [""] * len(payloads)
    return decode([bytes(p) for p in payloads])  # type: ignore[call-overload]


def summaries(rows: Iterable[tuple[object, ...]]) -> list[AccountSummary]:
    """The accounts of :data:`ACCOUNTS`' rows, in (source, account_id) order."""
    by: dict[tuple[str, str], _Account] = {}
    for source, account, currency, channel, count, first, last in rows:
        a = by.get((str(source), str(account)))
        if a is None:
            a = by[(str(source), str(account))] = _Account()
        a.count += int(count)  # type: ignore[call-overload]
        a.first = min(a.first, int(first))  # type: ignore[call-overload]
        a.last = max(a.last, int(last))  # type: ignore[call-overload]
        a.currencies.add(str(currency))
        a.channels.add(str(channel))
    return [
        AccountSummary(source, account, a.count, a.first, a.last,
                       tuple(sorted(a.currencies)), tuple(sorted(a.channels)))
        for (source, account), a in sorted(by.items())
    ]  # fmt: skip


def chosen_sql(org_id: str, flt: DeletionFilter, *, mark: str = "?") -> tuple[str, list[object]]:
    """Conditions on ``measures m`` for the org's records ``flt`` picks (every set field),
    and their parameters (``mark``: the store's parameter marker)."""
    clauses = [f"m.org_id = {mark}"]
    params: list[object] = [org_id]
    for column, value in (("account_id", flt.account_id), ("source", flt.source)):
        if value is not None:
            clauses.append(f"m.{column} = {mark}")
            params.append(value)
    if flt.start_day is not None:
        clauses.append(f"m.day >= {mark}")
        params.append(flt.start_day)
    if flt.end_day is not None:
        clauses.append(f"m.day <= {mark}")
        params.append(flt.end_day)
    return " AND ".join(clauses), params


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a deletion removed (with ``dry_run``: would remove) and the org's state after.

    ``removed_seqs``: the records' seqs (the search index withdraws them); ``max_seq``: the
    org's last seq after it (a deletion takes a seq of its own, so every reader holding state
    per data version sees a new one, and ``removed_since`` gives the seqs to a follower)."""

    removed_seqs: np.ndarray
    history_count: int
    accounts: list[AccountSummary]
    org_record_count: int
    max_seq: int
    dry_run: bool


def _day(day: int | None) -> str:
    return "any" if day is None else (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def audit_text(org_id: str, flt: DeletionFilter, done: Deletion) -> str:
    """What a deletion covered and removed, for the audit log: the org, the filter, the
    counts per (source, account); ids and counts, never a record's content."""
    picked = "every record (all_records)"
    if not flt.is_empty():
        account = "any" if flt.account_id is None else repr(flt.account_id)
        picked = (
            f"source={flt.source or 'any'} account_id={account} "
            f"days={_day(flt.start_day)}..{_day(flt.end_day)}"
        )
    per = ", ".join(f"{a.source}/{a.account_id!r}: {a.record_count}" for a in done.accounts)
    verb = "dry run, would delete" if done.dry_run else "deleted"
    return (
        f"org={org_id!r} filter: {picked}; {verb} {len(done.removed_seqs)} records "
        f"({per or 'none'}) and {done.history_count} replaced versions; the org holds "
        f"{done.org_record_count} records"
    )


def said_filled(logger: logging.Logger, org_id: str, filled: int, *, done: bool) -> None:
    """The log line for ``filled`` rows whose account was read from their payloads: a
    WARNING once they are committed; a dry run (or a deletion that chose nothing) rolls the
    fill back, so it only says it would fill them (INFO: nothing was repaired)."""
    if not filled:
        return
    if done:
        logger.warning(
            "%d records of %s had no account_id in measures (written by a build from before "
            "the column): filled from their payloads", filled, org_id,
        )  # fmt: skip
    else:
        logger.info(
            "%d records of %s have no account_id in measures (written by a build from before "
            "the column): read from their payloads; a deletion would fill them", filled, org_id,
        )  # fmt: skip
