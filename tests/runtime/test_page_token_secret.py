"""Replicas starting on one new data folder each read or create its page-token secret: the
file was created (O_EXCL) and written after, so a replica reading between the two got an
empty file and died "is not a page-token secret (under 32 bytes)" (found by
tests/causal/test_analysis_store_replicas.py, s18). It is now written whole, then linked
into place; every replica ends with the same secret."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from mesh.runtime.page_tokens import _file_secret
first, trials, folder = float(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
for i in range(trials):
    while time.time() < first + 0.2 * i:
        pass
    try:
        print(i, _file_secret(folder / str(i)).hex())
    except Exception as exc:
        print(i, "failed", repr(exc))
"""


def test_replicas_creating_the_secret_at_once_share_one(tmp_path: Path) -> None:
    processes, trials = 6, 20
    first = time.time() + 3.0  # every process imported and spinning by then
    command = [sys.executable, "-c", OPEN_AT_ONCE, str(first), str(trials), str(tmp_path)]
    out = subprocess.PIPE
    procs = [subprocess.Popen(command, stdout=out, stderr=out, text=True) for _ in range(processes)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outcomes
    seen: dict[str, set[str]] = {}
    for stdout, _ in outcomes:
        for line in stdout.splitlines():
            trial, secret = line.split(" ", 1)
            seen.setdefault(trial, set()).add(secret)
    assert all("failed" not in s for secrets in seen.values() for s in secrets), seen
    assert len(seen) == trials and all(len(s) == 1 for s in seen.values()), seen
    leftovers = [p.name for p in tmp_path.rglob(".*")]
    assert leftovers == [], leftovers  # no temporary file left behind
