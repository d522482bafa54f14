"""Process settings the memory server takes from its environment."""

from __future__ import annotations

from pathlib import Path

import faiss
import pytest

from memory_svc.app import open_engine, settings_from_env
from memory_svc.sqlite_store import SQLiteRecordStore
from mesh.runtime.config import PeerConfig, ServerConfig


def test_faiss_runs_single_threaded_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = faiss.omp_get_max_threads()
    config = ServerConfig("memory", "127.0.0.1", 0, tmp_path, PeerConfig.from_env())
    try:
        faiss.omp_set_num_threads(3)
        monkeypatch.delenv("LIFTOS_MEMORY_FAISS_THREADS", raising=False)
        open_engine(config).close()
        assert faiss.omp_get_max_threads() == 1
        monkeypatch.setenv("LIFTOS_MEMORY_FAISS_THREADS", "2")
        open_engine(config).close()
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(before)


def test_the_memory_budget_bounds_caches_and_indexes_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIFTOS_MEMORY_GRAPH_CACHE", raising=False)
    monkeypatch.setenv("LIFTOS_MEMORY_BUDGET", "4GiB")
    s = settings_from_env()
    caches = s.graph_cache_bytes + s.sums_cache_bytes + s.key_maps_bytes
    assert (s.graph_cache_bytes, s.sums_cache_bytes, s.key_maps_bytes) == (
        32 << 20,
        64 << 20,
        512 << 20,
    )  # the defaults fit: kept
    assert s.index.memory_budget + caches == 4 << 30
    monkeypatch.setenv("LIFTOS_MEMORY_BUDGET", "256MiB")  # a share of a small budget
    s = settings_from_env()
    assert (s.graph_cache_bytes, s.sums_cache_bytes, s.key_maps_bytes) == (
        8 << 20,
        16 << 20,
        64 << 20,
    )
    assert s.index.memory_budget == (256 - 88) << 20
    config = ServerConfig("memory", "127.0.0.1", 0, tmp_path, PeerConfig.from_env())
    engine = open_engine(config)
    try:
        store = engine.store
        assert isinstance(store, SQLiteRecordStore)
        assert (store.sums_cache_bytes, store.key_maps_bytes) == (16 << 20, 64 << 20)
        assert engine.indexes.settings.memory_budget == (256 - 88) << 20
    finally:
        engine.close()
    monkeypatch.setenv("LIFTOS_MEMORY_GRAPH_CACHE", "300MiB")  # more than the budget holds
    with pytest.raises(ValueError, match="leave nothing for indexes"):
        settings_from_env()
    monkeypatch.delenv("LIFTOS_MEMORY_BUDGET")
    s = settings_from_env()  # no budget: the defaults, indexes unbounded
    assert s.index.memory_budget == 0 and s.graph_cache_bytes == 300 << 20


def test_scan_snapshot_bounds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_MEMORY_SCAN_SNAPSHOT_S", "30")
    monkeypatch.setenv("LIFTOS_MEMORY_SCAN_SNAPSHOTS", "4")
    s = settings_from_env()
    assert (s.scan_snapshot_s, s.scan_snapshots) == (30.0, 4)
    for name, value in (
        ("LIFTOS_MEMORY_SCAN_SNAPSHOT_S", "0"),
        ("LIFTOS_MEMORY_SCAN_SNAPSHOT_S", "2 minutes"),
        ("LIFTOS_MEMORY_SCAN_SNAPSHOTS", "0"),
        ("LIFTOS_MEMORY_SCAN_SNAPSHOTS", "1.5"),
    ):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            with pytest.raises(ValueError, match=f"{name}={value!r} is not"):
                settings_from_env()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIFTOS_MEMORY_NPROBE", "8x"),
        ("LIFTOS_MEMORY_IVF_THRESHOLD", "50k"),
        ("LIFTOS_MEMORY_INDEX_SAVE_CHANGES", "1.5"),
        ("LIFTOS_MEMORY_COMPRESS_THRESHOLD", "2M"),
        ("LIFTOS_MEMORY_FOLLOW_S", "soon"),
        ("LIFTOS_MEMORY_EXACT_CANDIDATES", "many"),
        ("LIFTOS_MEMORY_INLINE_SEARCH_COST", "-"),
    ],
)
def test_a_mistyped_tuning_number_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """R28-F5: was int()'s bare "invalid literal for int() with base 10: '8x'", no name."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name}={value!r} is not a (whole )?number$"):
        settings_from_env()
