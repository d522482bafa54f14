"""An org's records by ad account: which (source, account) pairs it holds (ListAccounts), and
which of its records a deletion takes (DeleteRecords).

The account is not a column of the store: it is read from each record's payload, through a
``DecodeAccounts`` callback the caller gives (``memory_svc.convert.accounts``: the domain
never parses protobuf). The stores read candidate records page by page, filtered in SQL by
org, source and local day, as ``CandidateRows``; this module keeps those of the wanted account
and sums them per account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "PAGE",
    "AccountSummary",
    "CandidateRows",
    "DecodeAccounts",
    "Deletion",
    "DeletionFilter",
    "Fetch",
    "Summaries",
    "candidate_pages",
    "candidate_sql",
    "pick",
    "rows_of",
    "summarize",
]

# The account_id of each payload, in order.
DecodeAccounts = Callable[[list[bytes]], list[str]]

# The rows a store's connection returns for a query and its parameters.
Fetch = Callable[[str, list[object]], list[tuple[object, ...]]]

# Candidate records a store reads at a time (their payloads are held while they are decoded).
PAGE = 20_000


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


class Summaries:
    """Per-account sums over the pages a store reads, added page by page."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, str], _Account] = {}

    def add(
        self,
        sources: Iterable[str],
        accounts: Iterable[str],
        days: Iterable[int],
        currencies: Iterable[str],
        channels: Iterable[str],
    ) -> None:
        for source, account, day, currency, channel in zip(
            sources, accounts, days, currencies, channels, strict=True
        ):
            a = self._by.get((source, account))
            if a is None:
                a = self._by[(source, account)] = _Account()
            a.count += 1
            a.first = min(a.first, day)
            a.last = max(a.last, day)
            a.currencies.add(currency)
            a.channels.add(channel)

    def result(self) -> list[AccountSummary]:
        """The accounts in (source, account_id) order."""
        return [
            AccountSummary(source, account, a.count, a.first, a.last,
                           tuple(sorted(a.currencies)), tuple(sorted(a.channels)))
            for (source, account), a in sorted(self._by.items())
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class CandidateRows:
    """A page of an org's records that pass a deletion's SQL filter (org, source, days):
    columns of the same length, in seq order."""

    seqs: list[int]
    sources: list[str]
    days: list[int]
    currencies: list[str]
    channels: list[str]
    payloads: list[bytes]


def candidate_sql(
    org_id: str, flt: DeletionFilter, after_seq: int, limit: int, *, mark: str = "?"
) -> tuple[str, list[object]]:
    """The query for a page of :class:`CandidateRows` (seq, source, day, currency, channel,
    payload) after ``after_seq``: the filter's source and days, never its account (not a
    column)."""
    clauses = [f"r.org_id = {mark}", f"r.seq > {mark}"]
    params: list[object] = [org_id, after_seq]
    if flt.source is not None:
        clauses.append(f"r.source = {mark}")
        params.append(flt.source)
    if flt.start_day is not None:
        clauses.append(f"m.day >= {mark}")
        params.append(flt.start_day)
    if flt.end_day is not None:
        clauses.append(f"m.day <= {mark}")
        params.append(flt.end_day)
    sql = (
        "SELECT r.seq, r.source, m.day, m.currency, r.channel, p.payload FROM records r "
        "JOIN measures m ON m.seq = r.seq JOIN payloads p ON p.seq = r.seq "
        f"WHERE {' AND '.join(clauses)} ORDER BY r.seq LIMIT {mark}"
    )
    return sql, [*params, limit]


def rows_of(fetched: list[tuple[object, ...]]) -> CandidateRows:
    """:class:`CandidateRows` from the fetched rows of :func:`candidate_sql`."""
    cols = list(zip(*fetched, strict=True)) if fetched else [()] * 6
    return CandidateRows(
        [int(s) for s in cols[0]],  # type: ignore[call-overload]
        [str(s) for s in cols[1]],
        [int(d) for d in cols[2]],  # type: ignore[call-overload]
        [str(c) for c in cols[3]],
        [str(c) for c in cols[4]],
        [bytes(p) for p in cols[5]],  # type: ignore[call-overload]
    )


def candidate_pages(
    fetch: Fetch, org_id: str, flt: DeletionFilter, *, mark: str = "?"
) -> Iterator[CandidateRows]:
    """The org's :class:`CandidateRows` for ``flt``, :data:`PAGE` at a time, read through
    ``fetch`` (``mark``: the store's parameter marker)."""
    last = -1
    while True:
        sql, params = candidate_sql(org_id, flt, last, PAGE, mark=mark)
        page = rows_of(fetch(sql, params))
        if not page.seqs:
            return
        yield page
        last = page.seqs[-1]


def pick(
    page: CandidateRows, flt: DeletionFilter, decode: DecodeAccounts, sums: Summaries
) -> np.ndarray:
    """The seqs of the page's records of the filter's account (all of them when it names
    none), summed into ``sums`` per account."""
    accounts = decode(page.payloads)
    keep = (
        np.ones(len(accounts), dtype=bool)
        if flt.account_id is None
        else np.array([a == flt.account_id for a in accounts], dtype=bool)
    )
    idx = np.flatnonzero(keep).tolist()
    sums.add(
        [page.sources[i] for i in idx],
        [accounts[i] for i in idx],
        [page.days[i] for i in idx],
        [page.currencies[i] for i in idx],
        [page.channels[i] for i in idx],
    )
    return np.asarray(page.seqs, dtype=np.int64)[keep]


def summarize(pages: Iterable[CandidateRows], decode: DecodeAccounts) -> list[AccountSummary]:
    """Every record of ``pages`` summed per account (ListAccounts)."""
    sums = Summaries()
    for page in pages:
        pick(page, DeletionFilter(), decode, sums)
    return sums.result()


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
