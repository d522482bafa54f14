"""Wires the memory service's dependencies for a server process.

Environment: ``LIFTOS_EMBEDDER`` (hashing | minilm; the embedder for orgs written from now
on — an org keeps the one it was first embedded with), ``LIFTOS_MEMORY_IVF_THRESHOLD``,
``LIFTOS_MEMORY_NPROBE``, ``LIFTOS_MEMORY_COMPRESS_THRESHOLD`` (vectors above which an org's
IVF keeps compressed codes and re-ranks from the store), ``LIFTOS_MEMORY_EXACT_CANDIDATES``, ``LIFTOS_MEMORY_INDEX_SAVE_CHANGES``
(changes between index saves; the index is caught up from the store after a crash),
``LIFTOS_MEMORY_INLINE_SEARCH_COST`` (vector components an unfiltered search may scan and
still run on the event loop; 0 sends every search to a worker thread),
``LIFTOS_MEMORY_SCAN_SNAPSHOT_S`` (seconds a Scan may read from the snapshot it began with;
past it the Scan fails SCAN_SNAPSHOT_EXPIRED, default 120), ``LIFTOS_MEMORY_SCAN_SNAPSHOTS``
(Scans reading at once, each holding a snapshot and a connection; default 32),
``LIFTOS_MEMORY_FAISS_THREADS`` (OpenMP threads FAISS may use; default 1),
``LIFTOS_MEMORY_GRAPH_CACHE`` (bytes of knowledge-graph neighbourhoods kept between
requests, e.g. ``64MiB``; default 32 MiB, 0 for none: the graph itself is read from the store),
``LIFTOS_MEMORY_BUDGET`` (also ``--memory-budget``: bytes of what memory keeps that grows
with the data, e.g. ``4GiB``: the caches' shares (see ``settings_from_env``) and indexes with
their id maps in the rest — past it the least recently used org's index is dropped and loaded
again on use), ``LIFTOS_MEMORY_FOLLOW_S`` (several memory processes on one PostgreSQL database: every
so many seconds each org's index follows the others' commits; 0, the default, for one
process), ``LIFTOS_MEMORY_STORE`` (the record store, also ``--store``: empty for the embedded SQLite
file under the data dir, ``sqlite:///path/to/file`` for another file, or a libpq URL
``postgresql://user@host:port/db`` for PostgreSQL; see ``memory_svc.postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import faiss
from liftos.v1 import memory_pb2, memory_pb2_grpc

from memory_svc import data_dir_lock
from memory_svc.convert import payload_currencies, payload_measures, payload_skus
from memory_svc.convert.accounts import payload_accounts
from memory_svc.engine import MemoryEngine, MemorySettings
from memory_svc.errors import SchemaTooNew
from memory_svc.faiss_index import IndexManager, IndexSettings
from memory_svc.postgres import PostgresRecordStore, is_postgres_url
from memory_svc.service import MemoryService
from memory_svc.sqlite_store import SQLiteRecordStore
from memory_svc.store import RecordStore
from mesh.runtime import ServerConfig, ServiceBinding
from mesh.runtime.config import env_number
from mesh.runtime.main import run_service
from mesh.runtime.metrics import MetricsHooks, OrgSize
from mesh.runtime.page_tokens import PageTokens

SERVICE_NAME = memory_pb2.DESCRIPTOR.services_by_name["MemoryService"].full_name
_LOGGER = logging.getLogger(__name__)


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_bytes(text: str, name: str) -> int:
    """``4GiB``, ``512M``, ``1.5g`` or plain bytes (binary units) → bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not m:
        raise ValueError(f"{name}: {text!r} is not a size (e.g. 4GiB, 512MiB, 1000000)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _share(budget: int, default: int, fraction: int) -> int:
    return default if budget <= 0 else min(default, budget // fraction)


def _positive(name: str, default: float, kind: type[float] | type[int]) -> float:
    """A number over 0 from the environment variable ``name`` (``default`` when unset); an
    error that names the variable otherwise."""
    text = os.environ.get(name, str(default))
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not value > 0:
        what = "a whole number of at least 1" if kind is int else "a number of seconds over 0"
        raise ValueError(f"{name}={text!r} is not {what}")
    return value


def settings_from_env() -> MemorySettings:
    """The engine's settings from the environment. ``LIFTOS_MEMORY_BUDGET`` (``--memory-budget``)
    bounds everything memory keeps that grows with the data: its caches take their default
    budgets or a share of it, whichever is smaller (identity maps a quarter, sums a
    sixteenth, graph answers a thirty-second), and indexes with their id maps the rest."""
    index, engine = IndexSettings(), MemorySettings()  # the defaults
    env = os.environ.get
    budget = parse_bytes(env("LIFTOS_MEMORY_BUDGET", "0"), "LIFTOS_MEMORY_BUDGET")
    graph = parse_bytes(
        env("LIFTOS_MEMORY_GRAPH_CACHE", str(_share(budget, engine.graph_cache_bytes, 32))),
        "LIFTOS_MEMORY_GRAPH_CACHE",
    )
    sums = _share(budget, engine.sums_cache_bytes, 16)
    keys = _share(budget, engine.key_maps_bytes, 4)
    if budget and budget <= graph + sums + keys:
        raise ValueError(
            f"LIFTOS_MEMORY_BUDGET: {budget} bytes leave nothing for indexes after the caches' "
            f"{graph + sums + keys}"
        )
    snapshot_s = _positive("LIFTOS_MEMORY_SCAN_SNAPSHOT_S", engine.scan_snapshot_s, float)
    snapshots = int(_positive("LIFTOS_MEMORY_SCAN_SNAPSHOTS", engine.scan_snapshots, int))
    return MemorySettings(
        embedder=env("LIFTOS_EMBEDDER", engine.embedder),
        index=IndexSettings(
            ivf_threshold=env_number("LIFTOS_MEMORY_IVF_THRESHOLD", index.ivf_threshold, int),
            nprobe=env_number("LIFTOS_MEMORY_NPROBE", index.nprobe, int),
            save_min_changes=env_number(
                "LIFTOS_MEMORY_INDEX_SAVE_CHANGES", index.save_min_changes, int
            ),
            compress_threshold=env_number(
                "LIFTOS_MEMORY_COMPRESS_THRESHOLD", index.compress_threshold, int
            ),
            memory_budget=budget - graph - sums - keys if budget else 0,
            follow_s=env_number("LIFTOS_MEMORY_FOLLOW_S", index.follow_s, float),
        ),
        exact_candidates=env_number("LIFTOS_MEMORY_EXACT_CANDIDATES", engine.exact_candidates, int),
        inline_search_cost=env_number(
            "LIFTOS_MEMORY_INLINE_SEARCH_COST", engine.inline_search_cost, int
        ),
        scan_snapshot_s=snapshot_s,
        scan_snapshots=snapshots,
        graph_cache_bytes=graph,
        sums_cache_bytes=sums,
        key_maps_bytes=keys,
    )


def check_store_url(url: str) -> None:
    """Refuse a ``--store`` URL of no known kind (naming its scheme, never the rest)."""
    if url and not is_postgres_url(url) and not url.startswith("sqlite:///"):
        scheme = url.split("://", 1)[0] if "://" in url else url[:20]
        raise ValueError(
            f"--store / LIFTOS_MEMORY_STORE: unknown store {scheme!r}; use postgresql://…, "
            "sqlite:///path or leave it empty for the SQLite file under the data dir"
        )


def open_store(url: str, root: Path, settings: MemorySettings | None = None) -> RecordStore:
    """The record store a ``--store`` URL names (empty: ``root/memory.sqlite``)."""
    check_store_url(url)
    if is_postgres_url(url):
        pg = PostgresRecordStore(url, decode_accounts=payload_accounts)
        _backfill_columns(pg)
        return pg
    settings = settings or MemorySettings()
    store = SQLiteRecordStore(
        Path(url.removeprefix("sqlite://")) if url else root / "memory.sqlite",
        sums_cache_bytes=settings.sums_cache_bytes,
        key_maps_bytes=settings.key_maps_bytes,
        decode_accounts=payload_accounts,
    )
    filled = store.backfill_measures(payload_measures)
    if filled:
        _LOGGER.info("measures backfilled for %d records stored before the table existed", filled)
    _backfill_columns(store)
    return store


def _backfill_columns(store: SQLiteRecordStore | PostgresRecordStore) -> None:
    """A store from before a column gets it filled from the stored payloads, once each:
    ``measures.currency`` (``backfill_currencies``), ``product_records.sku`` of the catalogue
    rows (``backfill_skus``) and ``measures.account_id`` (``backfill_accounts``)."""
    filled = store.backfill_currencies(payload_currencies)
    if filled:
        _LOGGER.info("currency filled for %d records stored before the column existed", filled)
    filled = store.backfill_skus(payload_skus)
    if filled:
        _LOGGER.info("sku filled for %d catalogue rows stored before the column existed", filled)
    started = time.monotonic()
    filled = store.backfill_accounts(payload_accounts)
    if filled:
        _LOGGER.info(
            "account_id filled for %d records stored before the column existed, in %.1fs "
            "(ListAccounts and DeleteRecords read it)", filled, time.monotonic() - started,
        )  # fmt: skip


def open_engine(
    config: ServerConfig, settings: MemorySettings | None = None, *, store: str | None = None
) -> MemoryEngine:
    """Open the record store (``store``, else ``LIFTOS_MEMORY_STORE``, else the SQLite file
    under ``data_dir/memory``) and bring every org's index up to date; FAISS indexes live
    under ``data_dir/memory/index`` whichever the store."""
    settings = settings or settings_from_env()
    # One OpenMP thread: writes add ~1,000 vectors at a time and searches are one query each,
    # so a second thread mostly waits, on CPU taken from the other services on the machine.
    faiss.omp_set_num_threads(env_number("LIFTOS_MEMORY_FAISS_THREADS", 1, int))
    root = config.data_dir / "memory"
    url = os.environ.get("LIFTOS_MEMORY_STORE", "") if store is None else store
    store_ = open_store(url, root, settings)
    tokens = PageTokens.for_data_dir(root, "ListConceptualSpaces")
    engine = MemoryEngine(
        store_, IndexManager(root / "index", settings.index, store_), settings, tokens
    )
    for r in engine.recover():
        _LOGGER.info("index %s %s: %d vectors in %.2fs", r.org_id, r.how, r.size, r.seconds)
    engine.warm()
    return engine


def org_sizes(engine: MemoryEngine) -> Iterator[OrgSize]:
    """Each org's records (the store) and the bytes its index holds now, read at metrics
    scrape time from the exporter's thread: never loads an evicted index nor touches the
    budget's recency."""
    for org_id in engine.store.orgs():
        yield OrgSize(org_id, engine.record_count(org_id), engine.indexes.bytes_held(org_id))


class Follower:
    """Every ``interval`` seconds, each org's index follows the store's commits by other
    memory processes (``IndexManager.follow``), on a thread of its own."""

    def __init__(self, engine: MemoryEngine, interval: float) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-follow", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                for org_id in self._engine.store.orgs():
                    self._engine.indexes.follow(org_id)
            except Exception:  # the store unreachable for a while: the next round retries
                _LOGGER.warning("following the store failed; retrying", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def build(
    config: ServerConfig, settings: MemorySettings | None = None, *, store: str | None = None
) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    try:
        owner = data_dir_lock.hold_dir(config.data_dir / "memory", "memory server")
    except data_dir_lock.DataDirBusy as exc:
        raise SystemExit(f"memory: {exc}") from None
    try:
        engine = open_engine(config, settings, store=store)
    except SchemaTooNew as exc:  # a rollback after an upgrade: one line and exit
        os.close(owner)
        raise SystemExit(f"memory: {exc}") from None
    except BaseException:
        os.close(owner)
        raise
    follow_s = engine.settings.index.follow_s
    follower = Follower(engine, follow_s) if follow_s > 0 else None

    async def on_stop() -> None:
        if follower is not None:
            await asyncio.to_thread(follower.stop)
        await asyncio.to_thread(engine.close)
        os.close(owner)

    binding = ServiceBinding(
        SERVICE_NAME,
        MemoryService(engine, reply_limit=config.max_message_bytes),
        memory_pb2_grpc.add_MemoryServiceServicer_to_server,
        MetricsHooks(org_sizes=lambda: org_sizes(engine)),
    )
    return [binding], on_stop


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m memory_svc``: the flags every service takes, plus ``--store``."""
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--store", default=None, help="record store URL (env LIFTOS_MEMORY_STORE)")
    own.add_argument(
        "--memory-budget",
        default=None,
        help="bytes of FAISS indexes and id maps kept loaded, e.g. 4GiB (env LIFTOS_MEMORY_BUDGET)",
    )
    args, _ = own.parse_known_args(argv)
    try:  # refused before anything starts
        if args.memory_budget is not None:
            parse_bytes(args.memory_budget, "--memory-budget")
            os.environ["LIFTOS_MEMORY_BUDGET"] = args.memory_budget  # read by settings_from_env
        settings_from_env()
        check_store_url(
            os.environ.get("LIFTOS_MEMORY_STORE", "") if args.store is None else args.store
        )
    except ValueError as exc:
        raise SystemExit(f"memory: {exc}") from None
    # ``own`` as a parent: --help lists --store and --memory-budget with the common flags.
    run_service("memory", functools.partial(build, store=args.store), argv, parents=[own])
