"""A proposed fix measured, not landed: ``StreamHistory.lookup`` by binary search over a sorted
view of the stored keys instead of one ``dict.get`` per key in a Python generator.

The Ingest profile (bench/profiles/ingest/*.txt) puts ``StreamHistory.lookup`` and its generator
at ~9% of the ingestion server's CPU: each batch looks up every row's lag window (~14k keys a
call, two calls a batch). ``ingestion_svc/history.py`` is not issue 22's file, so the change is
applied here by patching the class in this process only, and timed against the stock class on
the same world, each in a fresh process, interleaved. Times are CPU seconds of the process
(``time.process_time``: the transform is single-threaded), which a loaded machine stretches
far less than wall time:

    PYTHONPATH=.:gen .venv/bin/python bench/profiles/history_lookup.py [--days 60 --campaigns 60]

``--check`` runs the patched lookup beside the stock one on every call and fails on any
difference (versions, hashes, spend/conversions/revenue, NaN where unknown).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "gen"), str(ROOT / "bench")]


def patch(check: bool) -> dict[str, float]:
    """Replace StreamHistory.lookup with the sorted-view version (kept current on each
    lookup from the slots added since; rebuilt after a prune). Returns the call tally."""
    from ingestion_svc.history import Known, StreamHistory

    stock_lookup, stock_prune = StreamHistory.lookup, StreamHistory._prune
    tally = {"lookup_calls": 0.0, "lookup_s": 0.0}

    def _prune(self: Any) -> None:
        stock_prune(self)
        self._sorted = None  # slots were renumbered

    def lookup(self: Any, keys: np.ndarray) -> Known:
        t0 = time.process_time()
        view = getattr(self, "_sorted", None)
        n = self._size
        if view is None:
            order = np.argsort(self._key[:n], kind="stable")
            view = (self._key[:n][order], order.astype(np.int64), n)
        elif view[2] < n:  # merge the slots added since the view was built
            new = np.arange(view[2], n, dtype=np.int64)
            new = new[np.argsort(self._key[new], kind="stable")]
            where = np.searchsorted(view[0], self._key[new])
            view = (np.insert(view[0], where, self._key[new]), np.insert(view[1], where, new), n)
        self._sorted = view
        sorted_keys, sorted_slots, _ = view
        i = np.minimum(np.searchsorted(sorted_keys, keys), max(n - 1, 0))
        hit = (sorted_keys[i] == keys) if n else np.zeros(keys.size, dtype=bool)
        at = np.where(hit, sorted_slots[i] if n else 0, -1)
        num = np.full((keys.size, 3), np.nan)
        num[hit] = self._num[at[hit]]
        version = np.full(keys.size, -1, dtype=np.int64)
        version[hit] = self._version[at[hit]]
        sha = np.full(keys.size, "", dtype=object)
        sha[hit] = self._sha[at[hit]]
        out = Known(version, sha, num[:, 0], num[:, 1], num[:, 2])
        tally["lookup_calls"] += 1
        tally["lookup_s"] += time.process_time() - t0
        if check:
            ref = stock_lookup(self, keys)
            assert np.array_equal(ref.version, out.version)
            assert (ref.sha == out.sha).all()
            for a, b in ((ref.spend, out.spend), (ref.conversions, out.conversions),
                         (ref.revenue, out.revenue)):  # fmt: skip
                assert np.array_equal(a, b, equal_nan=True)
        return out

    StreamHistory.lookup = lookup  # type: ignore[method-assign]
    StreamHistory._prune = _prune  # type: ignore[method-assign]
    return tally


def run(world: Path, patched: bool, check: bool) -> dict[str, float]:
    from ingest_throughput import transformed

    from ingestion_svc.history import StreamHistory

    if patched:
        tally = patch(check)
    else:
        tally = {"lookup_calls": 0.0, "lookup_s": 0.0}
        stock = StreamHistory.lookup

        def timed(self: Any, keys: np.ndarray) -> Any:
            t0 = time.process_time()
            out = stock(self, keys)
            tally["lookup_calls"] += 1
            tally["lookup_s"] += time.process_time() - t0
            return out

        StreamHistory.lookup = timed  # type: ignore[method-assign]
    rows = 0
    t0, w0 = time.process_time(), time.perf_counter()
    for n, _ in transformed(world):
        rows += n
    wall = time.perf_counter() - w0
    return {"rows": rows, "seconds": time.process_time() - t0, "wall": wall, **tally}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--campaigns", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--run", nargs=2, metavar=("WORLD", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        print(json.dumps(run(Path(args.run[0]), args.run[1] == "sorted", args.check)))
        return
    from ingest_throughput import generate

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp)
        generate(world, args.days, args.campaigns, 0)
        results: dict[str, list[dict[str, float]]] = {"dict (stock)": [], "sorted": []}
        for _ in range(args.rounds):
            for variant in results:
                cmd = [sys.executable, __file__, "--run", str(world), variant.split()[0]]
                cmd += ["--check"] if args.check else []
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results[variant].append(r)
                print(f"{variant:13s}: {r['rows']:,} rows in {r['seconds']:.1f} s CPU ({r['wall']:.1f} s wall) "
                      f"({r['rows'] / r['seconds']:,.0f} rows/s); lookup {r['lookup_calls']:.0f} "
                      f"calls, {r['lookup_s']:.2f} s = {r['lookup_s'] / r['seconds']:.1%}")  # fmt: skip
        best = {v: min(r["seconds"] for r in rs) for v, rs in results.items()}
        stock, fast = best.values()
        print(f"best of {args.rounds}: transform {stock:.1f} s → {fast:.1f} s ({fast / stock:.3f}×); "
              f"lookup {min(r['lookup_s'] for r in results['dict (stock)']):.2f} s → "
              f"{min(r['lookup_s'] for r in results['sorted']):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
