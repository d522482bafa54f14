"""The knowledge space engine: one facade over the write path, search, scans and the graph.

Pure domain code (no gRPC, no generated protos): records arrive as a ``mesh.runtime.frames`` frame
plus a callback that serialises the enriched records, and leave as opaque payload bytes.
The parts, each safe to call from worker threads:

* ``memory_svc.writer``      idempotent writes and group commit's transaction;
* ``memory_svc.search``      filtered similarity search, and the inline unfiltered one;
* ``memory_svc.org_graphs``  knowledge-graph neighbourhoods and conceptual-space counts;
* ``memory_svc.scan_snapshots``  a Scan's pages from one read transaction of the store.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from memory_svc.accounts import AccountSummary, Deletion, DeletionFilter
from memory_svc.embedding import CausalEmbedder, Embedders
from memory_svc.errors import InvalidQuery, NoProductRecords, OrgNotFound
from memory_svc.faiss_index import IndexManager, IndexSettings, Recovery
from memory_svc.graph import Neighbourhood
from memory_svc.org_graphs import DEFAULT_GRAPH_CACHE_BYTES, OrgGraphs, SpaceSummary
from memory_svc.product_table import ProductAggregate
from memory_svc.record_ids import RecordIds
from memory_svc.scan_replies import SCAN_PAGE_BYTES
from memory_svc.scan_snapshots import SCAN_SNAPSHOT_S, SCAN_SNAPSHOTS, ScanSnapshot, ScanSnapshots
from memory_svc.search import Searcher, SearchResult
from memory_svc.sqlite_store import KEY_MAPS_BYTES, SUMS_CACHE_BYTES
from memory_svc.store import Aggregate, CampaignGeoDays, RecordFilter, RecordStore, ScanRow
from memory_svc.writer import RecordWriter, Serialise, WriteOutcome
from mesh.runtime.page_tokens import PageTokens
from mesh.runtime.page_tokens import page_size as _page_size
from mesh.runtime.storage import storage_failure

__all__ = ["ACCOUNTS_PAGE", "MAX_ACCOUNTS_PAGE", "MemoryEngine", "MemorySettings"]

_LOGGER = logging.getLogger(__name__)
# What a Scan that could not begin lost (mesh.runtime.storage words the rest).
_SCAN_LOST = "the Scan read nothing — send it again"

# ListAccounts' page size when the request gives none, and its largest.
ACCOUNTS_PAGE = 500
MAX_ACCOUNTS_PAGE = 5000


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """Engine configuration (from env in ``app.py``)."""

    embedder: str = "hashing"
    index: IndexSettings = field(default_factory=IndexSettings)
    exact_candidates: int = 20_000
    # vector components one inline search may read: about a millisecond of FAISS
    inline_search_cost: int = 8_000_000
    # bytes of knowledge-graph neighbourhood answers kept between requests
    graph_cache_bytes: int = DEFAULT_GRAPH_CACHE_BYTES
    # the SQLite store's caches: orgs' sums (AggregateRecords) and identity maps (Write)
    sums_cache_bytes: int = SUMS_CACHE_BYTES
    key_maps_bytes: int = KEY_MAPS_BYTES
    # a Scan page's records, at most about: what a Scan whose client stopped reading holds
    scan_page_bytes: int = SCAN_PAGE_BYTES
    # how long a Scan's snapshot is kept, and how many are open at once (scan_snapshots)
    scan_snapshot_s: float = SCAN_SNAPSHOT_S
    scan_snapshots: int = SCAN_SNAPSHOTS


class MemoryEngine:
    """Store + embeddings + FAISS + spaces + graph, safe to call from worker threads."""

    def __init__(
        self,
        store: RecordStore,
        indexes: IndexManager,
        settings: MemorySettings,
        tokens: PageTokens | None = None,
    ):
        """``tokens`` seal ListConceptualSpaces page tokens (app.py: the deployment's
        secret; default: a secret of this process's own)."""
        self.store = store
        self.indexes = indexes
        self.settings = settings
        self._embedders = Embedders()
        self._writer = RecordWriter(store, indexes, self._embedders, settings.embedder)
        self._searcher = Searcher(
            store,
            indexes,
            self._embedders,
            exact_candidates=settings.exact_candidates,
            inline_search_cost=settings.inline_search_cost,
        )
        self._tokens = tokens or PageTokens(os.urandom(32), "ListConceptualSpaces")
        self._graphs = OrgGraphs(store, self._tokens, settings.graph_cache_bytes)
        self._scans = ScanSnapshots(
            store.read_transaction, settings.scan_snapshot_s, settings.scan_snapshots
        )

    # ---------------------------------------------------------------- lifecycle

    def recover(self) -> list[Recovery]:
        """Bring every org's index in line with the store (load, catch up or rebuild)."""
        out = []
        for org_id in self.store.orgs():
            state = self.store.org_state(org_id)
            if state is not None and state.record_count:
                out.append(self.indexes.recover(state, self.store))
                ids = RecordIds.from_pages(
                    self.store.iter_record_ids(org_id, 100_000), size=state.record_count
                )
                self.indexes.set_record_ids(org_id, ids)
        return out

    def close(self) -> None:
        """Save the search indexes and close the store. An index that cannot be saved (a full
        disk, often why the service is being stopped) is one line in the log and does not stop
        the rest: its file stays as it was, and the next start catches it up or rebuilds it
        from the store, where every record is (R49-F7: a traceback, later orgs unsaved, the
        store left open)."""
        self._scans.close()
        with self._writer.lock:
            try:
                for org_id, exc in self.indexes.save_all():
                    _LOGGER.error(
                        "memory's search index of org %r was not saved at shutdown (%s); the "
                        "next start catches it up or rebuilds it from the store: nothing is "
                        "lost",
                        org_id, _one_line(exc),
                    )  # fmt: skip
            finally:
                self.store.close()

    def embedder(self, name: str) -> CausalEmbedder:
        return self._embedders.get(name)

    def warm(self) -> None:
        """Make the default embedder off the request path (see :meth:`Embedders.warm`)."""
        self._embedders.warm(self.settings.embedder)

    def record_count(self, org_id: str) -> int:
        """How many records the org has (0 for an org never written)."""
        state = self.store.org_state(org_id)
        return state.record_count if state else 0

    def aggregate(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str],
        *, campaign_geo: bool = False,
    ) -> Aggregate:  # fmt: skip
        """Sums of the org's current records per day × geo and per day × campaign, and with
        ``campaign_geo`` their spend per day × geo × campaign.

        Raises
        ------
        OrgNotFound
            The org has no records.
        """
        if self.record_count(org_id) == 0:
            raise OrgNotFound(org_id)
        agg = self.store.aggregate(org_id, start_day, end_day, sources)
        if not campaign_geo:
            return agg
        # a second read: a commit landing between the two shows in this one only (each read
        # is of one data version)
        spend = self.campaign_geo_spend(org_id, start_day, end_day, sources)
        return dataclasses.replace(agg, campaign_geo_days=spend)

    def campaign_geo_spend(
        self, org_id: str, start_day: int | None, end_day: int | None, sources: Sequence[str]
    ) -> CampaignGeoDays:
        """The org's spend per day × geo × campaign (dense: AggregateRecords asks for it
        only once its size is known to fit, ``memory_svc.convert.reply_size``)."""
        return self.store.campaign_geo_spend(org_id, start_day, end_day, sources)

    def aggregate_products(
        self, org_id: str, start_day: int | None, end_day: int | None,
        *, spend_only: bool = False,
    ) -> ProductAggregate:  # fmt: skip
        """The org's product sums (``memory_svc.product_table``); with ``spend_only``, the
        product reports' spend alone (sales and catalogue empty).

        Raises
        ------
        NoProductRecords
            The org has no product records (in the range: the catalogue is undated; with
            ``spend_only``, no product report rows in the range).
        """
        agg = self.store.aggregate_products(org_id, start_day, end_day, spend_only=spend_only)
        if not (agg.sales or agg.spend or agg.catalogue):
            raise NoProductRecords(org_id)
        return agg

    # -------------------------------------------------------------------- write

    def write(
        self,
        org_id: str,
        frame: pd.DataFrame,
        given_vectors: Sequence[np.ndarray | None],
        serialise: Serialise,
    ) -> WriteOutcome:
        """Store one batch idempotently (see ``memory_svc.writer``).

        Within a batch, records sharing an id or natural key are applied in version order
        (the highest wins; equal versions after the first are unchanged).
        """
        return self.write_group(org_id, frame, given_vectors, serialise, [len(frame)])[0]

    def write_group(
        self,
        org_id: str,
        frame: pd.DataFrame,
        given_vectors: Sequence[np.ndarray | None],
        serialise: Serialise,
        parts: Sequence[int],
    ) -> list[WriteOutcome]:
        """Store consecutive batches in one transaction (group commit): ``frame`` holds
        them in order, ``parts[j]`` rows each; one outcome per batch."""
        return self._writer.write_group(org_id, frame, given_vectors, serialise, parts)

    def delete_records(self, org_id: str, flt: DeletionFilter, *, dry_run: bool) -> Deletion:
        """Delete the org's records ``flt`` picks, everything derived from them with them
        (``memory_svc.sqlite_delete``), and their search index entries. Writes wait
        meanwhile (the writer's lock), so the index follows the store as it does a commit.

        Raises
        ------
        OrgNotFound
            The org has no records.
        """
        if self.record_count(org_id) == 0:
            raise OrgNotFound(org_id)
        now_us = int(time.time() * 1e6)
        with self._writer.lock:
            done = self.store.delete_records(org_id, flt, dry_run=dry_run, now_us=now_us)
            if done.dry_run or not len(done.removed_seqs):
                return done
            state = self.store.org_state(org_id)
            dim = state.dim if state else 0
            none = np.zeros(0, np.int64)
            self.indexes.apply(org_id, dim, none, np.zeros((0, dim), np.float32),
                               done.removed_seqs, done.max_seq, [])  # fmt: skip
            # A saved index file would keep the erased records' vectors until the next save
            # (20,000 changes, or a clean stop): saved now, one write of the org's index.
            self.indexes.save(org_id)
        return done

    # --------------------------------------------------------------------- read

    def accounts_page(
        self, org_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[AccountSummary], int, str]:
        """A page of the org's accounts in (source, account_id) order, the org's record
        count, and the next page's token ("" after the last; it opens for this org only).

        Raises
        ------
        OrgNotFound
            The org has no records.
        """
        size = _page_size(page_size, default=ACCOUNTS_PAGE, maximum=MAX_ACCOUNTS_PAGE)
        after: tuple[str, str] | None = None
        if page_token:
            key = self._tokens.open_key(org_id, page_token)
            if len(key) != 3 or key[0] != "accounts":
                raise InvalidQuery("page_token is not a token this server issued",
                                   field="page_token")  # fmt: skip
            after = (str(key[1]), str(key[2]))
        if self.record_count(org_id) == 0:
            raise OrgNotFound(org_id)
        every = self.store.accounts(org_id)
        total = sum(a.record_count for a in every)
        rest = [a for a in every if after is None or (a.source, a.account_id) > after]
        page = rest[:size]
        more = len(rest) > size
        token = (
            self._tokens.seal_key(org_id, ("accounts", page[-1].source, page[-1].account_id))
            if more
            else ""
        )
        return page, total, token

    def check_filter(
        self, org_id: str, flt: RecordFilter, prefix: str, *, allow_unknown: bool = False
    ) -> RecordFilter:
        return self._searcher.check_filter(org_id, flt, prefix, allow_unknown=allow_unknown)

    def scan_page(
        self,
        org_id: str,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
    ) -> list[ScanRow]:
        """One page of a scan: ``limit`` records, or fewer that reach the page byte budget
        (``scan_replies.ScanPager`` says whether another may follow)."""
        budget = self.settings.scan_page_bytes
        return self.store.scan_page(org_id, flt, after, limit, with_embeddings, max_bytes=budget)

    def open_scan(self, org_id: str) -> ScanSnapshot:
        """A snapshot of the org's records as of now, for one Scan's pages (close it when the
        Scan ends); raises ``ScanSnapshotsBusy`` when ``scan_snapshots`` are open, and
        ``StorageFailure`` when its connection cannot be opened for a limit of the host (out
        of file descriptors: each snapshot holds a connection of its own; R49-F2)."""
        try:
            return self._scans.open(org_id)
        except (OSError, sqlite3.Error) as exc:
            where = getattr(self.store, "_path", Path("memory.sqlite")).parent
            failure = storage_failure(exc, where, owner="memory", lost=_SCAN_LOST)
            if failure is None:
                raise
            raise failure from exc

    def snapshot_page(
        self,
        snapshot: ScanSnapshot,
        flt: RecordFilter,
        after: tuple[int, str] | None,
        limit: int,
        with_embeddings: bool,
    ) -> list[ScanRow]:
        """:meth:`scan_page` from ``snapshot``; raises ``ScanSnapshotExpired`` once it has
        been kept ``scan_snapshot_s``."""
        budget = self.settings.scan_page_bytes
        return snapshot.page(flt, after, limit, with_embeddings, budget)

    def query_vector(self, org_id: str, text: str | None, vector: np.ndarray | None) -> np.ndarray:
        return self._searcher.query_vector(org_id, text, vector)

    def search(
        self,
        org_id: str,
        query: np.ndarray,
        flt: RecordFilter,
        k: int,
        *,
        include_payloads: bool = False,
    ) -> SearchResult:
        return self._searcher.search(org_id, query, flt, k, include_payloads=include_payloads)

    def search_now(self, org_id: str, vector: np.ndarray, k: int) -> SearchResult | None:
        return self._searcher.search_now(org_id, vector, k)

    # ------------------------------------------------------------ graph, spaces

    def query_graph(
        self, org_id: str, node_id: str, depth: int, edge_types: frozenset[str], max_nodes: int
    ) -> Neighbourhood:
        return self._graphs.query_graph(org_id, node_id, depth, edge_types, max_nodes)

    def spaces(self, org_id: str) -> list[SpaceSummary]:
        return self._graphs.spaces(org_id)

    def spaces_page(
        self, org_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[SpaceSummary], str]:
        return self._graphs.spaces_page(org_id, page_size=page_size, page_token=page_token)


def _one_line(exc: BaseException) -> str:
    """An error's last line: FAISS's own spans several, the OS's reason last."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
