"""Profile the Ingest path over gRPC with py-spy: both server processes, sampled while a client
streams a simulated world's exports to durable acks (``bench/ingest_throughput.py``'s gRPC
path), then the top frames of each process by self and by inclusive time.

    PYTHONPATH=.:gen .venv/bin/python bench/profiles/profile_ingest.py \
        [--days 28 --campaigns 40] [--out bench/profiles/ingest] [--label before] \
        [--world DIR] [--raw]

Writes, per server process, ``<label>-<service>.speedscope.json`` (open in speedscope.app) and
``<label>-<service>.txt`` (the summary this prints). py-spy samples from outside the process
(``--nonblocking``: the servers are not paused to be read), so the profile costs them next
to nothing; idle threads (the event loop waiting) are not counted.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "gen"), str(ROOT / "bench")]

from ingest_throughput import _free_port, _worker, generate  # noqa: E402

PY_SPY = Path(sys.executable).with_name("py-spy")
RATE = 250  # samples/s


def _function(frame: str) -> str:
    """``name (path/to/file.py:123)`` → ``name (file.py)``: one row per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


def summarise(raw: Path, top: int = 25) -> str:
    """Self and inclusive shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_function(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    out = [f"{total} samples at {RATE}/s = {total / RATE:.1f} s of CPU-busy time", "",
           "self time (where the CPU was):"]  # fmt: skip
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    out += ["", "inclusive time (the function or something it called):"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--campaigns", type=int, default=40)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "profiles" / "ingest")
    ap.add_argument("--label", default="profile")
    ap.add_argument("--world", type=Path, default=None,
                    help="reuse the exports here (generated there when missing)")  # fmt: skip
    ap.add_argument("--raw", action="store_true", help="keep py-spy's collapsed stacks too")
    args = ap.parse_args()
    from mesh.cli.processes import Mesh
    from mesh.runtime.config import PeerConfig
    from mesh.sdk.client import LiftOS

    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="liftos-profile-ingest-"))
    try:
        world = args.world or scratch / "world"
        if not (world / "manifest.json").exists():
            sizes = generate(world, args.days, args.campaigns, 0)
            print(f"world: {sum(sizes.values()):,} export lines {sizes}")
        ports = {"ingestion": _free_port(), "memory": _free_port()}
        mesh = Mesh(scratch / "mesh", ports=ports, services=("memory", "ingestion"),
                    log_level="WARNING")  # fmt: skip
        mesh.start()
        spies: dict[str, tuple[subprocess.Popen[bytes], Path, Path]] = {}
        try:
            with LiftOS(PeerConfig(**{s: mesh.address(s) for s in mesh.ports})) as probe:
                mesh.wait_serving(probe.health)
            for service, proc in mesh.procs.items():
                raw = scratch / f"{service}.raw"
                speedscope = args.out / f"{args.label}-{service}.speedscope.json"
                cmd = [str(PY_SPY), "record", "--pid", str(proc.pid), "--rate", str(RATE),
                       "--nonblocking", "--format", "raw", "-o", str(raw)]  # fmt: skip
                spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                spies[service] = (spy, raw, speedscope)
            time.sleep(1.0)  # py-spy attached
            result = _worker("client", str(world), mesh.address("ingestion"),
                             mesh.address("memory"))  # fmt: skip
            print(f"Ingest over gRPC: {result['rows']:,} rows in {result['seconds']:.1f} s = "
                  f"{result['rows'] / result['seconds']:,.0f} rows/s")  # fmt: skip
        finally:
            for spy, _, _ in spies.values():
                spy.send_signal(signal.SIGINT)
            for spy, _, _ in spies.values():
                spy.wait(60)
            mesh.stop()
        summary = {"rows": result["rows"], "seconds": result["seconds"]}
        for service, (_, raw, speedscope) in spies.items():
            text = summarise(raw)
            if args.raw:
                shutil.copy(raw, args.out / f"{args.label}-{service}.collapsed.txt")
            _speedscope(raw, speedscope, f"{args.label}: {service} during Ingest")
            (args.out / f"{args.label}-{service}.txt").write_text(
                f"{service} server during Ingest over gRPC of {result['rows']:,} rows "
                f"({result['rows'] / result['seconds']:,.0f} rows/s)\n{text}\n"
            )
            print(f"\n== {service}\n{text}")
        (args.out / f"{args.label}.json").write_text(json.dumps(summary) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _speedscope(raw: Path, out: Path, name: str) -> None:
    """Collapsed stacks → speedscope's sampled-profile JSON (what ``py-spy -f speedscope``
    writes; converted here so one recording gives both files)."""
    frames: list[dict[str, object]] = []
    index: dict[str, int] = {}
    samples: list[list[int]] = []
    weights: list[int] = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        ids = []
        for f in stack.split(";"):
            if f not in index:
                fname, _, where = f.partition(" (")
                file, _, lineno = where.rstrip(")").rpartition(":")
                index[f] = len(frames)
                frames.append({"name": fname, "file": file or where.rstrip(")"),
                               "line": int(lineno) if lineno.isdigit() else 0})  # fmt: skip
            ids.append(index[f])
        samples.append(ids)
        weights.append(int(count))
    out.write_text(json.dumps({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [{"type": "sampled", "name": name, "unit": "none", "startValue": 0,
                      "endValue": sum(weights), "samples": samples, "weights": weights}],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
