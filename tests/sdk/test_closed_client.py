"""A call on a `LiftOS` after its `with` block (R45-F7): grpc 1.85's intercepted channel
dereferences the closed channel on the first call of a method not called before the close, and
the interpreter died of SIGSEGV (a notebook's kernel with it). Each call now raises
ChannelClosed naming the fix, before grpc is reached. Run in a child process: the old code
exits 139 there instead of failing an assertion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import sys, tempfile
from pathlib import Path
import pandas as pd
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk import ChannelClosed, LiftOS

builds = {"memory": memory_build, "ingestion": ingestion_build}
with running_services(builds, Path(tempfile.mkdtemp())) as services:
    peers = PeerConfig.from_env().with_overrides(**{s: r.address for s, r in services.items()})
    with LiftOS(peers, org_id="closed") as lo:
        print("inside:", list(lo.list_experiments()), lo.health()["memory"], flush=True)
    calls = {
        "list_experiments": lambda: list(lo.list_experiments()),  # called before the close
        "health": lambda: lo.health(),
        "list_accounts": lambda: lo.list_accounts(),
        "ingest": lambda: lo.ingest("generic", [{"d": "2024-01-01"}],
                                    account={"account_id": "a"}, mapping={"date": "d"}),
        "analyze": lambda: lo.analyze(),
        "recommend": lambda: lo.recommend(["an-x"]),
        "estimate": lambda: lo.estimate(pd.DataFrame({"y": [1.0, 2.0], "t": [0, 1]}),
                                        outcome="y", treatment="t"),
    }
    for name, call in calls.items():
        try:
            call()
            print(name, "ran")
        except ChannelClosed as exc:
            assert isinstance(exc, ValueError)
            print(name, "refused:", exc, flush=True)
"""


def test_every_call_on_a_closed_client_is_refused_not_a_crash() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'gen'}"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=root, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
    lines = done.stdout.splitlines()
    assert lines[0] == "inside: [] SERVING", lines
    refused = [line for line in lines[1:] if " refused: " in line]
    assert len(refused) == 7, lines
    for line in refused:
        assert "this LiftOS client was closed" in line and "make a new LiftOS" in line, line
