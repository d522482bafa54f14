"""Several processes doing one thing to the same new files at the same moment, as replicas of a
service starting on one new data folder do: each process runs ``act`` for trial 0, 1, … at a
shared wall-clock instant per trial, and reports what each trial returned or raised."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_SCRIPT = """
import sys, time
from pathlib import Path
{imports}
first, trials, spacing, folder = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
for i in range(trials):
    while time.time() < first + spacing * i:
        pass
    path = folder / str(i)
    try:
        print(i, "ok", {act})
    except Exception as exc:
        print(i, "failed", repr(exc))
"""


def run_at_once(
    imports: str, act: str, folder: Path, *, processes: int = 6, trials: int = 10,
    spacing: float = 0.25,
) -> dict[int, list[str]]:  # fmt: skip
    """Per trial, each process's outcome: "ok <act's value>" or "failed <exception>".
    ``act`` is an expression over ``path`` (``folder / str(trial)``, not created)."""
    first = time.time() + 3.0  # every process imported and spinning by then
    script = _SCRIPT.format(imports=imports, act=act)
    command = [sys.executable, "-c", script, str(first), str(trials), str(spacing), str(folder)]
    out = subprocess.PIPE
    procs = [subprocess.Popen(command, stdout=out, stderr=out, text=True) for _ in range(processes)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outcomes
    seen: dict[int, list[str]] = {}
    for stdout, _ in outcomes:
        for line in stdout.splitlines():
            trial, said = line.split(" ", 1)
            seen.setdefault(int(trial), []).append(said)
    assert sorted(seen) == list(range(trials)) and all(len(s) == processes for s in seen.values())
    return seen


def failures(seen: dict[int, list[str]]) -> list[str]:
    return [
        f"{trial} {said}"
        for trial, outs in seen.items()
        for said in outs
        if said.startswith("failed")
    ]
