"""The compressed index beside the uncompressed one, on the same stored vectors: recall@10
against exact search, Search p50/p99 in process, bytes held and build time.

    python bench/memory_compressed.py                  # 100k records: ~2-3 minutes on 2 cores
    python bench/memory_compressed.py --records 1000000

Records are synthetic (mesh.runtime.synthetic_records), written through the memory engine
into a SQLite store and embedded by it (hashing embedder, 256-d), so the vectors have the
structure the service's have. Both IVF indexes are built from the store with the service's
settings (nlist = clamp(4·√n, ·, 512), nprobe 8); the compressed one re-ranks its shortlist
from the store. Queries are stored vectors nudged off themselves (noise ≈ 0.3 of the norm).
Exact = brute-force inner product over every stored vector.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen"), str(ROOT / "bench")]

from memory_search import requests  # noqa: E402

from bench._figures import figure  # noqa: E402
from memory_svc import convert  # noqa: E402
from memory_svc.engine import MemoryEngine, MemorySettings  # noqa: E402
from memory_svc.faiss_index import IndexManager, IndexSettings, OrgIndex  # noqa: E402
from memory_svc.sqlite_store import SQLiteRecordStore  # noqa: E402

ORG = "bench"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)  # as the service runs
    with tempfile.TemporaryDirectory(prefix="liftos-memory-sq-") as tmp:
        store = SQLiteRecordStore(Path(tmp) / "m.sqlite")
        quiet = IndexSettings(
            ivf_threshold=10**9, compress_threshold=10**9, save_min_changes=10**12
        )
        engine = MemoryEngine(
            store, IndexManager(Path(tmp) / "w", quiet), MemorySettings(index=quiet)
        )
        t = time.perf_counter()
        for request in requests(args.records, 1000):
            batch = convert.write_batch(request, None)
            engine.write(ORG, batch.frame, batch.given_vectors, convert.serialiser(batch.records))
        print(f"{args.records:,} records written and embedded in {time.perf_counter() - t:.0f}s")
        state = store.org_state(ORG)
        assert state is not None
        dim, n = state.dim, state.record_count

        settings = IndexSettings()
        t = time.perf_counter()
        pages = list(store.iter_vectors(ORG, dim, 0, 100_000))
        seqs = np.concatenate([p[0] for p in pages])
        vectors = np.vstack([p[1] for p in pages])
        del pages
        flat_ivf = OrgIndex.ivf(seqs, vectors, settings, state.max_seq)
        flat_s = time.perf_counter() - t
        manager = IndexManager(Path(tmp) / "sq", settings, store)
        t = time.perf_counter()
        packed = manager._rebuild_compressed(ORG, dim, n, state.max_seq)
        packed_s = time.perf_counter() - t

        rng = np.random.default_rng(0)
        pick = rng.choice(n, size=args.queries, replace=False)
        queries = vectors[pick] + rng.normal(0, 0.3 / np.sqrt(dim), (args.queries, dim)).astype(
            np.float32
        )
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact = faiss.IndexFlatIP(dim)
        exact.add(vectors)
        _, truth = exact.search(queries, args.k)
        truth = seqs[truth]

        print(f"exact (Flat) holds {vectors.nbytes / 2**20:,.0f} MiB of float vectors")
        seen: dict[str, tuple[float, float, float]] = {}  # recall, p50 ms, MiB: for figures
        for name, idx, build in (
            ("IVFFlat", flat_ivf, flat_s),
            ("IVF-SQ8 + re-rank", packed, packed_s),
        ):
            times, recall = [], []
            for q, want in zip(queries, truth, strict=True):
                t = time.perf_counter()
                _, got = idx.search(q, args.k, nprobe=settings.nprobe)
                times.append(time.perf_counter() - t)
                recall.append(len(set(got.tolist()) & set(want.tolist())) / args.k)
            ms = np.asarray(times) * 1e3
            print(f"{name:<18}: recall@{args.k} {np.mean(recall):.3f}, search p50 "
                  f"{np.percentile(ms, 50):.2f} ms p99 {np.percentile(ms, 99):.2f} ms, "
                  f"{idx.bytes_held() / 2**20:,.1f} MiB held, built in {build:.1f}s "
                  f"({idx.nlist} lists, nprobe {settings.nprobe})")  # fmt: skip
            seen[name] = (float(np.mean(recall)), float(np.percentile(ms, 50)),
                          idx.bytes_held() / 2**20)  # fmt: skip
        (flat, sq) = seen.values()
        for k, (what, unit) in enumerate(((f"recall@{args.k}", ""), ("Search p50 in process", "ms"),
                                          ("index bytes held", "MiB"))):  # fmt: skip
            figure(f"IVF-SQ8 + re-rank {what}, {n:,} records", sq[k], unit,
                   reference="IVFFlat, same vectors", reference_value=flat[k])  # fmt: skip
        print(f"compressed / uncompressed bytes: {packed.bytes_held() / flat_ivf.bytes_held():.2f}")
        engine.close()


if __name__ == "__main__":
    main()
