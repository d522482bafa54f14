"""Causal replicas starting on one new data folder open its analysis store at the same moment:
each added the ``seq`` column its schema lacks after seeing it missing, and the loser died
"duplicate column name: seq" (D, s18: one tests/runtime/test_replicas.py run errored so)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from causal_svc.analyses import AnalysisStore

OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from causal_svc.analyses import AnalysisStore
first, trials, folder = float(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
failed = 0
for i in range(trials):
    while time.time() < first + 0.3 * i:
        pass
    (folder / str(i)).mkdir(exist_ok=True)
    try:
        AnalysisStore(folder / str(i) / "analyses.sqlite").close()
    except Exception as exc:
        failed += 1
        print(i, repr(exc), file=sys.stderr)
print(failed)
"""


def test_replicas_opening_a_new_analysis_store_at_once_all_start(tmp_path: Path) -> None:
    processes, trials = 6, 10
    first = time.time() + 3.0  # every process imported and spinning by then
    command = [sys.executable, "-c", OPEN_AT_ONCE, str(first), str(trials), str(tmp_path)]
    out = subprocess.PIPE
    procs = [subprocess.Popen(command, stdout=out, stderr=out, text=True) for _ in range(processes)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outcomes
    assert sum(int(out) for out, _ in outcomes) == 0, [err for _, err in outcomes if err]
    for i in range(trials):
        store = AnalysisStore(tmp_path / str(i) / "analyses.sqlite")
        try:
            cols = {r[1] for r in store._db.execute("PRAGMA table_info(analyses)")}
        finally:
            store.close()
        assert "seq" in cols
