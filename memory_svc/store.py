"""The storage interface the memory engine needs (``RecordStore``) and the types that cross
it. SQLite implements it (``memory_svc.sqlite_store``); a PostgreSQL backend can replace it
without touching the engine or the servicer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from memory_svc.accounts import AccountSummary, Deletion, DeletionFilter
from memory_svc.graph import GraphDelta, GraphEdgeRow, GraphNodeRow
from memory_svc.product_table import ProductAggregate

__all__ = [
    "Aggregate",
    "CampaignGeoDays",
    "CommitBatch",
    "CommitResult",
    "ExistingRecord",
    "HitRow",
    "OrgState",
    "ReadTransaction",
    "RecordFilter",
    "RecordStore",
    "ScanRow",
    "existing_record",
    "seq_checksum",
]


def _splitmix64(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def seq_checksum(seqs: np.ndarray) -> int:
    """Order-free checksum of a set of seqs (XOR of splitmix64), as a signed int64."""
    if len(seqs) == 0:
        return 0
    with np.errstate(over="ignore"):
        h = np.bitwise_xor.reduce(_splitmix64(np.asarray(seqs, dtype=np.int64)))
    return int(np.array([h], dtype=np.uint64).view(np.int64)[0])


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Exact metadata filter; empty fields match everything. Times are µs since the epoch."""

    start_us: int | None = None
    end_us: int | None = None
    sources: tuple[str, ...] = ()
    campaign_ids: tuple[str, ...] = ()
    experiment_id: str = ""
    treatment_groups: tuple[str, ...] = ()
    geos: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    region: str = ""
    min_quality: float | None = None

    def is_empty(self) -> bool:
        return self == RecordFilter()


@dataclass(frozen=True, slots=True)
class OrgState:
    """What the store holds for one org."""

    org_id: str
    record_count: int
    checksum: int
    max_seq: int
    embedder: str
    dim: int


@dataclass(frozen=True, slots=True)
class ExistingRecord:
    """A stored record's identity, as needed to decide insert / replace / stale."""

    seq: int
    id: str
    natural_key: str
    version: int
    graph_nodes: tuple[str, ...]
    # (spend, impressions, conversions, revenue) as stored; None where the store does not
    # read them. Two writers of one version with other numbers are told apart by these.
    measures: tuple[float, float, float, float] | None = None


def existing_record(row: tuple[Any, ...]) -> ExistingRecord:
    """A store's (seq, id, natural_key, version, graph_nodes[, spend, impressions,
    conversions, revenue]) row: graph nodes newline-separated; measures None when not read
    (or the record has none)."""
    seq, rid, nk, version, nodes, *m = row
    got = None if not m or m[0] is None else (float(m[0]), float(m[1]), float(m[2]), float(m[3]))
    nodes_of = tuple(nodes.split("\n")) if nodes else ()
    return ExistingRecord(seq, rid, nk, version, nodes_of, got)


@dataclass(slots=True)
class CommitBatch:
    """Records to store for one org (columnar; all lists the same length)."""

    org_id: str
    embedder: str
    dim: int
    ids: list[str]
    natural_keys: list[str]
    versions: list[int]
    timestamps_us: list[int]
    sources: list[str]
    campaign_ids: list[str]
    campaign_names: list[str]
    channels: list[str]
    geos: list[str]
    experiment_ids: list[str]
    treatment_groups: list[str]
    qualities: list[float]
    primary_regions: list[str]
    regions: list[tuple[str, ...]]
    graph_nodes: list[list[str]]
    payloads: list[bytes]
    embeddings: np.ndarray  # (n, dim) float32
    days: list[int]  # local date, days since 1970-01-01
    measures: np.ndarray  # (n, 4) float64: spend, impressions, conversions, revenue
    currencies: list[str]  # currency_code ("" where the record names none)
    account_ids: list[str]  # account_id ("" where the record names none)
    # conversions_unreported: the platform reported no conversions (its 0s are placeholders)
    unreported: list[bool]
    replaces: list[ExistingRecord | None]
    graph: GraphDelta
    now_us: int
    # rows of the product table (memory_svc.product_table): (index in the batch, values)
    products: list[tuple[int, tuple[object, ...]]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CommitResult:
    """Seqs given to the new records, seqs withdrawn, and the org's state after commit."""

    seqs: np.ndarray
    removed_seqs: np.ndarray
    state: OrgState


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Sums of an org's current records; days are local dates as days since 1970-01-01.

    ``geo_days``: one row per (day, geo): day, geo, then one value per ``geo_columns`` entry
    (source, channel, sum name) — the sums that are not zero everywhere. ``campaign_days``:
    rows of (day, campaign_id, source, channel, spend, impressions, conversions, revenue,
    records).

    The row fields are sequences of tuples: a list, or (SQLite store) a
    ``memory_svc.org_sums.ColumnRows`` that holds the rows as columns and compares equal to
    the list of the same tuples; AggregateRecords' encoder reads its columns without building
    tuples. A store may return either.
    """

    geo_columns: list[tuple[str, str, str]]
    geo_days: Sequence[tuple[object, ...]]
    campaign_days: Sequence[tuple[int, str, str, str, float, float, float, float, int]]
    record_count: int
    # spend per day × geo × campaign, only when asked (AggregateRecords' campaign_geo_spend)
    campaign_geo_days: CampaignGeoDays | None = None
    # (source, channel, currency, spend, revenue, records) per (source, channel, currency)
    # with records in the window, in that order ("": records that name no currency)
    currencies: Sequence[tuple[str, str, str, float, float, int]] = ()
    # (campaign_id, name) per campaign id of campaign_days that some record names, in id
    # order: the name of its latest record (RecordStore.campaign_names)
    campaign_names: Sequence[tuple[str, str]] = ()
    # (day, campaign_id, source, channel, records, spend) of the records whose platform
    # conversions were not reported, per campaign_days key that has any, in that order
    # (memory_svc.unreported)
    unreported: Sequence[tuple[int, str, str, str, int, float]] = ()


@dataclass(frozen=True, slots=True)
class CampaignGeoDays:
    """Spend of an org's current records per day × geo × campaign, wide: row i is (``day[i]``,
    ``geo[i]``), in (day, geo) order; column j of ``spend`` is the campaign ``columns[j]``
    (source, channel, campaign_id), in that order. Rows and columns with no spend are left
    out; a cell with no record is 0."""

    day: np.ndarray  # (n,) int64, days since 1970-01-01
    geo: list[str]
    columns: list[tuple[str, str, str]]
    spend: np.ndarray  # (n, len(columns)) float64


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One scanned record."""

    seq: int
    timestamp_us: int
    id: str
    payload: bytes
    embedding: bytes | None


@dataclass(frozen=True, slots=True)
class HitRow:
    """A search hit's record id and, when asked, payload."""

    seq: int
    id: str
    payload: bytes | None


class ReadTransaction(Protocol):
    """A store's open read transaction on a connection of its own, begun when it was made:
    every page it reads sees the store as of then (memory_svc.scan_snapshots)."""

    def scan_page(
        self,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
        max_bytes: int | None,
    ) -> list[ScanRow]:
        """``RecordStore.scan_page`` of the transaction's org, as of its start."""
        ...

    def end(self) -> None:
        """End the transaction and let its connection go (called once)."""
        ...


class RecordStore(Protocol):
    """Storage the memory engine needs; SQLite here, PostgreSQL later."""

    def org_state(self, org_id: str) -> OrgState | None: ...
    def orgs(self) -> list[str]: ...
    def existing(
        self, org_id: str, ids: Sequence[str], natural_keys: Sequence[str]
    ) -> list[ExistingRecord]: ...
    def commit(self, batch: CommitBatch) -> CommitResult: ...
    def scan_page(
        self,
        org_id: str,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
        *,
        max_bytes: int | None = None,
    ) -> list[ScanRow]:
        """Up to ``limit`` records after ``after`` in (timestamp, id) order, ending with the
        one that brings their bytes to ``max_bytes`` (memory_svc.scan_replies.take_page)."""
        ...

    def read_transaction(self, org_id: str) -> ReadTransaction:
        """A read transaction of the org's records, begun now (a Scan's snapshot)."""
        ...

    def candidates(self, org_id: str, flt: RecordFilter, limit: int | None) -> np.ndarray: ...
    def matching(self, org_id: str, seqs: np.ndarray, flt: RecordFilter) -> np.ndarray: ...
    def vectors(self, seqs: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]: ...
    def iter_vectors(
        self, org_id: str, dim: int, after_seq: int, page: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...
    def removed_since(self, org_id: str, seq: int) -> np.ndarray: ...
    def hits(self, org_id: str, seqs: Sequence[int], with_payload: bool) -> dict[int, HitRow]: ...
    def iter_record_ids(self, org_id: str, page: int) -> Iterator[tuple[np.ndarray, list[str]]]: ...
    def present_nodes(self, org_id: str, node_ids: Sequence[str]) -> set[str]: ...
    def node_names(self, org_id: str, kind: str) -> list[str]: ...  # sorted: "geo" → its geos
    def graph(self, org_id: str) -> tuple[list[GraphNodeRow], list[GraphEdgeRow]]: ...
    def graph_nodes(self, org_id: str, node_ids: Sequence[str]) -> dict[str, GraphNodeRow]: ...
    def graph_edges_of(self, org_id: str, node_ids: Sequence[str]) -> list[GraphEdgeRow]: ...
    def aggregate(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> Aggregate: ...
    def campaign_geo_spend(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> CampaignGeoDays: ...
    def campaign_names(self, org_id: str, campaign_ids: Sequence[str]) -> dict[str, str]: ...
    def aggregate_products(
        self, org_id: str, start_day: int | None, end_day: int | None,
        *, spend_only: bool = False,
    ) -> ProductAggregate: ...  # fmt: skip
    def accounts(self, org_id: str) -> list[AccountSummary]:
        """The org's current records per (source, account) (``memory_svc.accounts``)."""
        ...

    def delete_records(
        self, org_id: str, flt: DeletionFilter, *, dry_run: bool, now_us: int
    ) -> Deletion:
        """Delete the org's records ``flt`` picks and all that derives from them in the
        store, in one transaction; with ``dry_run`` count them only."""
        ...

    def close(self) -> None: ...
