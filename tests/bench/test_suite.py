"""`make bench`'s runner: each bench in its own process, its figures beside their references."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.suite import (
    BENCHES,
    NOT_BENCHES,
    README,
    RESULTS_JSON,
    Bench,
    readme_section,
    run_one,
    table,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_bench_named_in_the_suite_exists_and_has_both_sizes() -> None:
    for b in BENCHES:
        assert (ROOT / "bench" / f"{b.name}.py").exists(), b.name
        assert b.timeout_s > 0 and b.what
    names = [b.name for b in BENCHES]
    assert len(names) == len(set(names))


def test_every_script_in_bench_is_in_the_suite_or_named_as_not_a_benchmark() -> None:
    # the committed scripts: a bench still being written in this tree is not in CI's either
    listed = subprocess.run(
        ["git", "ls-files", "bench/*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # (bench/profiles/ holds profiling drivers, not benchmarks)
    scripts = {Path(p).stem for p in listed if Path(p).parent == Path("bench")} - {"__init__"}
    assert "suite" in scripts
    names = {b.name for b in BENCHES}
    assert not names & set(NOT_BENCHES)
    missing = scripts - names - set(NOT_BENCHES)
    assert not missing, f"add to bench/suite.py BENCHES (or NOT_BENCHES with why): {missing}"
    assert set(NOT_BENCHES) <= scripts, set(NOT_BENCHES) - scripts


def test_a_quick_run_records_each_figure_with_its_reference_and_ratio(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "suite.py"), "--quick", "--only",
         "sim_generation", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True and results["machine"]["cores"] >= 1
    assert results["machine"]["libraries"]["numpy"]
    (bench,) = results["benches"]
    assert bench["status"] == "ok" and bench["seconds"] > 0 and bench["cpu_seconds"] > 0
    generation = next(f for f in bench["figures"] if f["name"].startswith("simulator generation"))
    assert generation["value"] > 0 and generation["reference_value"] > 0
    assert generation["ratio"] == pytest.approx(generation["value"] / generation["reference_value"])
    md = (tmp_path / "results.md").read_text()
    assert "quick (smoke sizes" in md and "| sim_generation | simulator generation" in md


def test_a_failing_bench_is_a_row_that_says_so(tmp_path: Path) -> None:
    row = run_one(Bench("no_such_bench", "a bench that is not there"), True, tmp_path)
    assert row["status"].startswith("failed") and row["figures"] == [] and row["tail"]
    results = {"benches": [row]}
    assert any("**failed" in line for line in table(results))


def test_readme_performance_table_is_generated_from_the_committed_results() -> None:
    results = json.loads(RESULTS_JSON.read_text())
    assert readme_section(results) in README.read_text(), (
        "README's performance table is stale: run `python bench/suite.py --readme`"
    )
