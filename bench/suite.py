"""`make bench`: every benchmark in bench/, one table of figures beside their references.

Each bench runs as its own process (its timings and peak RSS its own), appending its figures
to ``LIFTOS_BENCH_FIGURES`` (``bench/_figures.py``); the suite writes ``bench/results.json``
and ``.md``: per bench its status and wall time, per figure the value, its same-run reference,
the ratio and the target, the machine (cores, BLAS threads, library versions); a bench that
fails, times out or records no figure is a row that says so.

``--quick``: a smoke size (minutes in all; not the figures to quote). ``--readme`` rewrites
README.md's performance table from results.json. Run: ``make bench`` (``QUICK=1``), or
``PYTHONPATH=.:gen .venv/bin/python bench/suite.py [--quick] [--only NAME,…]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "bench" / "results.json"
RESULTS_MD = ROOT / "bench" / "results.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
LIBRARIES = ("numpy", "scipy", "pandas", "statsmodels", "econml", "grpcio", "protobuf",
             "faiss-cpu", "scikit-learn", "matplotlib")  # fmt: skip


@dataclass(frozen=True)
class Bench:
    """One benchmark: its script, the arguments of each size and how long it may take."""

    name: str
    what: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()
    timeout_s: float = 600.0
    extra: str = ""  # an optional install the bench needs ([bench-pymc]); skipped without it


# The issue-22 set first; the order is the table's. Full sizes are those docs/performance.md
# quotes, cut where the whole suite would not fit 30 minutes on 2 cores (said in `what`).
BENCHES: tuple[Bench, ...] = (
    Bench(
        "ingest_throughput",
        "Ingest over gRPC vs the same transform in process",
        ("--days", "60"),
        ("--days", "28", "--campaigns", "40"),
        900,
    ),
    Bench(
        "ingest_rss",
        "peak RSS of a 10M-row ingest, streaming",
        ("--rows", "10000000"),
        ("--rows", "100000"),
        1200,
    ),
    Bench(
        "memory_search",
        "Search over gRPC vs direct FAISS vs the gRPC floor, with recall",
        ("--records", "200000", "--queries", "500"),
        ("--records", "20000", "--queries", "100"),
        900,
    ),
    Bench("estimators_a_speed", "estimators vs their reference libraries (a)", (), (), 600),
    Bench("estimators_b_speed", "estimators vs their reference libraries (b)", (), (), 600),
    Bench("estimators_c_speed", "estimators vs their reference libraries (c)", (), (), 600),
    Bench(
        "causal_check_cost",
        "checks vs fit time (3,000 rows)",
        ("--repeats", "1"),
        ("--rows", "800", "--repeats", "1"),
        600,
    ),
    Bench(
        "attribution_speed",
        "AnalyzeAttribution end to end over gRPC vs 2 s",
        ("--runs", "3"),
        ("--runs", "1", "--geos", "10", "--campaigns", "8", "--days", "120"),
        900,
    ),
    # PyMC-Marketing at its defaults (4 chains × 1,000 draws after 1,000) on the weekly
    # national series, the size it finishes in minutes on two cores (the daily series at its
    # defaults takes most of an hour here; docs/performance.md has those runs).
    Bench(
        "attribution_pymc",
        "ours vs PyMC-Marketing at its defaults on the weekly national series",
        ("--weekly",),
        ("--weekly", "--chains", "1", "--draws", "20", "--tune", "20"),
        1800,
        extra="pymc_marketing",
    ),
    Bench(
        "llm_explain_latency",
        "Explain time to first token",
        ("--calls", "100"),
        ("--calls", "10"),
        600,
    ),
    Bench(
        "surfacing_optimizer",
        "OptimizeBudget time and distance to the true optimum",
        ("--seeds", "10"),
        ("--seeds", "2"),
        900,
    ),
    Bench(
        "surfacing_test_value",
        "Recommend's value of testing each channel against the simulator's oracle, and its cost",
        ("--seeds", "10"),
        ("--seeds", "2", "--scenario", "misallocated"),
        900,
    ),
    Bench(
        "confounder_detection",
        "confounder detection recall/precision and temporal consistency vs the simulator's truth",
        ("--seeds", "1", "2", "3"),
        ("--seeds", "1"),
        900,
    ),
    Bench(
        "causal_wild_bootstrap",
        "few-cluster coverage: wild cluster bootstrap vs CR1 (null DiD)",
        ("--replicates", "200"),
        ("--replicates", "20"),
        900,
    ),
    Bench(
        "causal_sdid_bootstrap",
        "synthetic DiD variance cost (bootstrap, placebo)",
        ("--runs", "1"),
        ("--runs", "1", "--replications", "20"),
        600,
    ),
    Bench(
        "report_open",
        "report size and open time in headless Chromium",
        ("--runs", "5"),
        ("--runs", "1"),
        600,
    ),
    Bench(
        "replicas_load",
        "two replicas of each stateless service, one killed mid-load",
        ("--seconds", "20", "--kill-at", "6"),
        ("--seconds", "8", "--kill-at", "3"),
        600,
    ),
    Bench(
        "metrics_overhead",
        "a unary RPC with Prometheus metrics on vs off",
        ("--rounds", "15", "--calls", "200"),
        ("--rounds", "3", "--calls", "50"),
        600,
    ),
    Bench(
        "sim_generation",
        "simulator generation",
        (),
        ("--days", "60", "--campaigns", "20", "--geos", "10", "--write-rows", "20000"),
        600,
    ),
    # The studies below quote more seeds in docs/performance.md than 30 minutes on 2 cores
    # allow: the suite runs fewer, and each figure's label says how many.
    Bench(
        "attribution_accuracy",
        "attribution iROAS vs the simulator's truth, beside naive regression and platforms",
        ("--seeds", "5"),
        ("--seeds", "2", "--scenarios", "demo"),
        900,
    ),
    Bench(
        "calibration_registry",
        "calibration by the registry's recorded experiment (10 demo seeds)",
        ("--seeds", "10"),
        ("--seeds", "2"),
        900,
    ),
    Bench(
        "attribution_null",
        "no false attributions: a channel with no effect called significant",
        ("--seeds", "20"),
        ("--seeds", "2"),
        900,
    ),
    Bench(
        "causal_sim_study",
        "every estimator's bias and coverage vs the truth, beside naive OLS",
        ("--replicates", "6"),
        ("--replicates", "2"),
        900,
    ),
    Bench(
        "causal_geo_experiments",
        "SDID on Prop 99 vs synthdid-py; geo holdouts: SDID and auto vs TWFE DiD",
        ("--seeds", "10", "--demo-seeds", "6"),
        ("--seeds", "2", "--demo-seeds", "2"),
        900,
    ),
    Bench(
        "products_moves",
        "product cells' marginal-return intervals and budget moves vs the truth, before/after",
        ("--seeds", "20", "--first-seed", "20"),
        ("--seeds", "2", "--first-seed", "20"),
        900,
    ),
    Bench(
        "products_accuracy",
        "product-level halo and cannibalisation vs the truth, beside naive OLS",
        # 20 held-out seeds: at 4 a seed is 25 points of the per-seed rate
        ("--seeds", "20", "--first-seed", "20"),
        ("--seeds", "1"),
        900,
    ),
    Bench(
        "surfacing_design",
        "DesignExperiment's stated power vs detection on fresh worlds",
        # 300 worlds: at 40 two standard errors of a detection rate are up to 16 points,
        # three times the ±5-point target
        ("--replicates", "300"),
        ("--replicates", "4"),
        900,
    ),
    Bench(
        "surfacing_cancel",
        "abandoned surfacing calls stop computing: the next call, checkpoint cost, stop latency",
        ("10",),
        ("3",),
        900,
    ),
    Bench(
        "surfacing_forecast",
        "PredictPerformance interval coverage, backtested, vs textbook OLS",
        ("--seeds", "20"),
        ("--seeds", "2", "--history", "180"),
        900,
    ),
    Bench("llm_claims", "CheckClaims accuracy on the labelled claims", (), (), 300),
    Bench(
        "llm_false_claims",
        "false causal claims: Explain vs a correlation-based report",
        ("--scale", "0.25"),
        ("--scale", "0.1"),
        900,
    ),
    Bench(
        "fuzz_rows",
        "mutated export rows through Ingest over gRPC: promises kept, rate vs clean rows",
        ("--mutants", "20000"),
        ("--mutants", "2000"),
        900,
    ),
    Bench(
        "fuzz_requests",
        "generated requests against every RPC: no INTERNAL, rate vs the gRPC floor",
        ("--per-rpc", "100"),
        ("--per-rpc", "20"),
        900,
    ),
    Bench(
        "load",
        "causal scaling with workers, mixed load and an overload burst",
        ("--seconds", "8"),
        ("--seconds", "3", "--burst", "16", "--days", "28"),
        900,
    ),
    Bench(
        "memory_write",
        "memory Write in process and over gRPC vs the protobuf floor",
        ("--records", "30000"),
        ("--records", "5000"),
        900,
    ),
    Bench(
        "memory_frames",
        "records <-> DataFrame conversions vs protobuf serialise+parse",
        ("--records", "50000", "--repeats", "2"),
        ("--records", "5000", "--repeats", "1"),
        600,
    ),
    Bench(
        "memory_embedding_quality",
        "hashing embedder precision by dimension vs the 256-d default",
        # its queries need October to Christmas: 400 records a day, so ≥ 34,400 records
        ("--records", "40000"),
        ("--records", "40000"),
        900,
    ),
    Bench(
        "memory_postgres",
        "PostgreSQL store vs SQLite: Write, Search, kill -9, two replicas",
        ("--records", "10000"),
        ("--records", "3000", "--queries", "50"),
        900,
    ),
    Bench(
        "memory_compressed",
        "compressed index (IVF-SQ8 + re-rank) vs IVFFlat: recall, p50, bytes",
        ("--records", "50000"),
        ("--records", "5000", "--queries", "50"),
        900,
    ),
    Bench(
        "wire_encoding",
        "ingest batches to WriteRequest bytes: column-wise vs message building",
        ("--days", "60", "--campaigns", "60"),
        ("--days", "28", "--campaigns", "10"),
        600,
    ),
    Bench("sdk_message_types", "SDK message types: betterproto2 vs pb2", (), (), 300),
    Bench(
        "products_mesh",
        "products over gRPC: Ingest, AggregateProducts vs Scan + pandas, AnalyzeProducts",
        ("--days", "180", "--runs", "3"),
        ("--days", "90", "--orders-per-day", "30", "--runs", "1"),
        900,
    ),
    # Its own default (1M, 3M, 10M) takes about an hour here: the suite grows the org to 500k
    # against 100k (the sizes are in the figures' labels), compressing above 200k as memory does
    # above 2M so the compressed index is what is measured; docs/performance.md has the 10M run.
    Bench(
        "memory_10m",
        "memory at scale in one org: server peak RSS, Search p50 and recall@10 vs exact",
        (
            "--checkpoints",
            "100000,500000",
            "--queries",
            "100",
            "--searches",
            "300",
            "--compress-threshold",
            "200000",
        ),
        (
            "--checkpoints",
            "20000,60000",
            "--queries",
            "50",
            "--searches",
            "100",
            "--compress-threshold",
            "40000",
        ),
        1200,
    ),
)

# Modules in bench/ that are not benchmarks (a test keeps every other script in BENCHES).
NOT_BENCHES = {
    "suite": "this runner",
    "_figures": "what a bench records its figures with",
    "llm_worlds": "simulated analyses the LLM benches and fixtures share",
    "surfacing_worlds": "the worlds the surfacing benches share",
    "llm_fixtures": "writes the LLM tests' fixture file (a generator, not a measurement)",
    "llm_claims_set": "writes CheckClaims' development set (a generator, not a measurement)",
    "confounder_ceilings": "the ceiling and rule studies that confounder_detection prints on "
    "request (no figure of their own)",
    "products_geo": "the orders' geo oracle that products_accuracy --geo prints (no figure of "
    "its own)",
    "products_signs": "the per-pair sign diagnosis that products_accuracy --diagnose prints (no "
    "figure of its own)",
    "attribution_identification": "per-channel diagnostic of the model's returns under variants "
    "(an investigation tool with no figure of its own)",
    "counterfactual_gate": "the before/after study of counterfactual intervals under the test "
    "of no effect (attribution_null prints the figure)",
}


def machine() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        # What the benches ran with: the suite sets 1 where the caller did not.
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
    }
    try:
        import numpy  # noqa: F401  (threadpoolctl reports only the BLAS already loaded)
        from threadpoolctl import threadpool_info

        facts["blas"] = [
            {k: i.get(k) for k in ("internal_api", "num_threads", "version")}
            for i in threadpool_info()
        ]
    except ImportError:
        facts["blas"] = []
    versions: dict[str, str | None] = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    facts["libraries"] = versions
    facts["commit"] = _commit()
    return facts


def _commit() -> str:
    """HEAD's short hash, "+ changes" when the tree differs from it (what the figures ran on)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()  # fmt: skip

    try:
        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "-uno")
    except OSError:
        return ""
    return f"{head} + changes" if head and dirty else head  # fmt: skip


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


_subreaper = False


def _become_subreaper() -> None:
    """Make the suite the subreaper of the benches' descendants (Linux): a server's worker
    pool orphaned when its server exits re-parents here instead of to init, so its CPU is
    counted once :func:`_reap_orphans` waits for it. Elsewhere CPU is a lower bound. Only
    the suite's own process does this (``main``): it reaps any child of its process."""
    global _subreaper
    try:
        import ctypes

        _subreaper = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _subreaper = False


def _reap_orphans(grace_s: float = 15.0) -> int:
    """Wait for the orphans a bench left; how many are still running after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if pid == 0:
            if time.monotonic() > deadline:
                return len([c for c in Path("/proc").glob("[0-9]*") if _parent(c) == os.getpid()])
            time.sleep(0.05)


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def run_one(bench: Bench, quick: bool, log_dir: Path) -> dict[str, Any]:
    """Run one bench in its own process; its figures, status and wall time."""
    row: dict[str, Any] = {"bench": bench.name, "what": bench.what, "figures": []}
    python = sys.executable
    if bench.extra and not _has(bench.extra):
        # `make bench` keeps the peer in its own venv: its pins (numba, pytensor) are not ours.
        python = str(ROOT / ".venv-bench" / "bin" / "python")
        if not Path(python).exists():
            reason = f"needs {bench.extra}: `make bench` installs it in .venv-bench"
            row.update(status="skipped", seconds=0.0, reason=reason)
            return row
    args = bench.quick if quick else bench.full
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as fh:
        figures_path = Path(fh.name)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")]),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
        "LIFTOS_BENCH_FIGURES": str(figures_path),
    }
    log = log_dir / f"{bench.name}.log"
    cmd = [python, str(ROOT / "bench" / f"{bench.name}.py"), *args]
    row["command"] = " ".join(["python", f"bench/{bench.name}.py", *args])
    # --merge keeps rows of older runs: each row says when and on which tree it was measured
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    row["ran"] = f"{now}, `{_commit()}`"
    t0 = time.perf_counter()
    # CPU of the bench and every process it reaped (servers, pools): on a loaded machine the
    # wall time stretches, this does not, so it projects a quiet run (wall ≥ CPU / cores).
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        with log.open("w") as out:
            proc = subprocess.run(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                timeout=bench.timeout_s, check=False,
            )  # fmt: skip
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        status = f"timed out after {bench.timeout_s:.0f} s"
    row["seconds"] = time.perf_counter() - t0
    left = _reap_orphans() if _subreaper else 0
    if left:
        row["left_running"] = left  # processes the bench started and never stopped
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row["cpu_seconds"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    row["figures"] = [
        json.loads(line) for line in figures_path.read_text().splitlines() if line.strip()
    ]
    figures_path.unlink(missing_ok=True)
    if status == "ok" and not row["figures"]:
        status = "no figures recorded"
    row["status"] = status
    row["log"] = str(log)
    if status != "ok":
        row["tail"] = log.read_text(errors="replace").splitlines()[-15:]
    return row


def _num(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    if abs(x) >= 1000:
        text = f"{x:,.0f}"
    elif abs(x) >= 10:
        text = f"{x:.1f}"
    else:
        text = f"{x:.3g}"
    return f"{text} {unit}".strip()


def measured(results: dict[str, Any]) -> dict[str, str]:
    """When each bench's row was measured: its own ``ran``, else the run or ``--merge`` rerun
    named in ``started`` that last included it (rows written before rows carried ``ran``)."""
    first, *merges = results.get("started", "").split(" (merged: ")
    when: dict[str, str] = {}
    for merge in merges:
        names, _, date = merge.rstrip(")").partition(" rerun ")
        when.update((name, date) for name in names.split(", "))
    return {b["bench"]: b.get("ran") or when.get(b["bench"], first) for b in results["benches"]}


def table(results: dict[str, Any]) -> list[str]:
    """The figures as one markdown table (README's section and results.md share it); a
    figure's note (the precision beside a recall, how many worlds) stays beside it."""
    lines = [
        "| bench | figure | value | reference (same run) | ratio | target | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    when = measured(results)
    for b in results["benches"]:
        if not b["figures"]:
            lines.append(f"| {b['bench']} | {b['what']} | **{b['status']}** | | | | |")
            continue
        for f in b["figures"]:
            ref = (
                f"{f['reference']}: {_num(f['reference_value'], f['unit'])}"
                if f["reference"]
                else ""
            )
            ratio = "" if f["ratio"] is None else f"{f['ratio']:.3g}×"
            target = f["target"] + ("" if f["met"] is None else (" ✓" if f["met"] else " ✗ missed"))
            name = f"{f['name']} ({f['note']})" if f.get("note") else f["name"]
            lines.append(f"| {b['bench']} | {name} | {_num(f['value'], f['unit'])} | "
                         f"{ref} | {ratio} | {target} | {when[b['bench']]} |")  # fmt: skip
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    size = "quick (smoke sizes: not the figures to quote)" if results["quick"] else "full"
    blas = ", ".join(f"{b['internal_api']} {b['num_threads']} threads" for b in m["blas"])
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    out = [
        "# Benchmark results",
        "",
        f"Written by `bench/suite.py` ({size}) on {results['started']} at commit "
        f"`{m['commit']}`, in {results['seconds'] / 60:.1f} minutes.",
        "",
        f"Machine: {m['cores']} cores ({m['cores_usable']} usable), Python {m['python']}, "
        f"{m['platform']}; BLAS: {blas or 'unknown'}; OPENBLAS_NUM_THREADS="
        f"{m['openblas_num_threads'] or 'unset'}.",
        "",
        f"Libraries: {libs}.",
        "",
        *table(results),
        "",
        "| bench | status | wall s | CPU s | command |",
        "|---|---|---|---|---|",
    ]
    for b in results["benches"]:
        cpu, left = b.get("cpu_seconds"), b.get("left_running")
        status = b["status"] + (f" ({left} processes left running)" if left else "")
        out.append(f"| {b['bench']} | {status} | {b['seconds']:.0f} | "
                   f"{'' if cpu is None else f'{cpu:.0f}'} | `{b.get('command', '')}` |")  # fmt: skip
    return "\n".join(out) + "\n"


def provenance(results: dict[str, Any]) -> str:
    """Which runs the figures come from: one run, or a first run and the reruns merged in."""
    first, *merges = results.get("started", "").split(" (merged: ")
    commit = results["machine"]["commit"]
    if not merges:
        return f"one run, {first}, commit `{commit}`"
    last = merges[-1].rstrip(")").partition(" rerun ")[2]
    return (f"a full run on {first} and {len(merges)} reruns of some benches merged into it, "
            f"the last on {last} at commit `{commit}`: each row's date (and commit, for rows "
            "run since rows record it) is in `measured`")  # fmt: skip


def readme_section(results: dict[str, Any]) -> str:
    size = "quick sizes" if results["quick"] else "full sizes"
    return "\n".join([
        BEGIN,
        f"Generated by `bench/suite.py --readme` from `bench/results.json` ({size}, "
        f"{results['machine']['cores']} cores), figures from {provenance(results)}; "
        "details, commands and later re-measurements in `bench/results.md` and "
        "`docs/performance.md`.",
        "",
        *table(results),
        END,
    ])  # fmt: skip


def write_readme(results: dict[str, Any], readme: Path = README) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} … {END} section to fill")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + readme_section(results) + tail)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke sizes (not figures to quote)")
    p.add_argument("--only", default="", help="comma list of bench names")
    p.add_argument("--out", type=Path, default=None, help="results dir (default bench/)")
    p.add_argument("--readme", action="store_true", help="only rewrite README's table")
    p.add_argument(
        "--merge", action="store_true",
        help="keep the other benches' rows of the existing results (same size only)",
    )  # fmt: skip
    args = p.parse_args()
    json_path = (args.out / "results.json") if args.out else RESULTS_JSON
    md_path = (args.out / "results.md") if args.out else RESULTS_MD
    if args.readme:
        write_readme(json.loads(json_path.read_text()))
        return 0
    only = {n for n in args.only.split(",") if n}
    unknown = only - {b.name for b in BENCHES}
    if unknown:
        raise SystemExit(f"unknown bench: {', '.join(sorted(unknown))}")
    chosen = [b for b in BENCHES if not only or b.name in only]
    _become_subreaper()
    log_dir = Path(tempfile.mkdtemp(prefix="liftos-bench-"))
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    rows = []
    for bench in chosen:
        print(f"== {bench.name}: {bench.what}", flush=True)
        row = run_one(bench, args.quick, log_dir)
        rows.append(row)
        print(f"   {row['status']} in {row['seconds']:.0f} s ({row.get('cpu_seconds', 0):.0f} s CPU), "
              f"{len(row['figures'])} figures (log {row.get('log', '')})", flush=True)  # fmt: skip
        for line in row.get("tail", []):
            print(f"   | {line}")
    seconds = time.perf_counter() - t0
    if args.merge and json_path.exists():
        old = json.loads(json_path.read_text())
        if old["quick"] != args.quick:
            raise SystemExit("--merge: the existing results are of the other size")
        ran = {r["bench"] for r in rows}
        kept = {r["bench"]: r for r in old["benches"] if r["bench"] not in ran}
        rows = [kept.get(b.name) or next(r for r in rows if r["bench"] == b.name)
                for b in BENCHES if b.name in kept or b.name in ran]  # fmt: skip
        seconds += sum(r["seconds"] for r in kept.values())
        started = f"{old['started']} (merged: {', '.join(sorted(ran))} rerun {started})"
    results = {
        "started": started,
        "quick": args.quick,
        "seconds": seconds,
        "machine": machine(),
        "benches": rows,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown(results))
    print(f"wrote {json_path} and {md_path} ({results['seconds'] / 60:.1f} min)")
    return 0 if all(r["status"] in ("ok", "skipped") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
