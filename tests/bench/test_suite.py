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


def _results(started: str, figures: list[dict[str, object]], ran: str = "") -> dict[str, object]:
    row: dict[str, object] = {"bench": "b", "what": "a bench", "status": "ok", "figures": figures}
    if ran:
        row["ran"] = ran
    return {"started": started, "quick": False, "machine": {"commit": "abc1234", "cores": 2},
            "benches": [row]}  # fmt: skip


def _figure(**kw: object) -> dict[str, object]:
    f: dict[str, object] = {"name": "recall, x", "value": 1.0, "unit": "share", "reference": "",
                            "reference_value": None, "ratio": None, "target": "", "met": None,
                            "note": ""}  # fmt: skip
    return {**f, **kw}


def test_a_row_shows_the_note_that_decides_its_mark_and_when_it_was_measured() -> None:
    # R44 F5: a recall of 1 marked ✗ with the deciding precision (its note) left out
    results = _results(
        "2026-12-05 22:06 UTC (merged: b rerun 2026-12-06 03:37 UTC) "
        "(merged: c rerun 2026-12-06 22:07 UTC)",
        [_figure(target="≥ 0.95 recall and ≥ 0.90 precision", met=False, note="precision 68.2%")],
    )
    (row,) = table(results)[2:]
    assert "| recall, x (precision 68.2%) | 1 share |" in row
    assert row.endswith("| ≥ 0.95 recall and ≥ 0.90 precision ✗ missed | 2026-12-06 03:37 UTC |")


def test_the_header_says_the_figures_are_merged_reruns_not_one_commit() -> None:
    # R44 F4: "commit 6b425e4" on figures gathered from 27 runs of older trees
    merged = readme_section(_results(
        "2026-12-05 22:06 UTC (merged: b rerun 2026-12-06 03:37 UTC) "
        "(merged: c rerun 2026-12-06 22:07 UTC)", [_figure()]))  # fmt: skip
    assert "a full run on 2026-12-05 22:06 UTC and 2 reruns" in merged
    assert "the last on 2026-12-06 22:07 UTC at commit `abc1234`: each row" in merged
    one = readme_section(_results("2026-12-07 18:00 UTC", [_figure()], ran="r, `abc1234`"))
    assert "one run, 2026-12-07 18:00 UTC, commit `abc1234`" in one
    assert one.splitlines()[-2].endswith("| r, `abc1234` |")


def test_a_bench_row_records_when_and_on_which_commit_it_ran(tmp_path: Path) -> None:
    row = run_one(Bench("no_such_bench", "a bench that is not there"), True, tmp_path)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert row["ran"].endswith(("UTC, `" + head + "`", "UTC, `" + head + " + changes`"))
