"""Process settings the memory server takes from its environment."""

from __future__ import annotations

from pathlib import Path

import faiss
import pytest

from memory_svc.app import open_engine
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
