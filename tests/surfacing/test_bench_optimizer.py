"""The OptimizeBudget bench's bookkeeping: which cached fit it reuses, and how a world whose
model failed is scored (the room at the optimum is the world's, not the model's)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from bench import surfacing_optimizer as bench
from tests.surfacing.curves_fixtures import hill


def test_cached_fit_is_reused_only_by_the_sources_that_made_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src" / "model"
    src.mkdir(parents=True)
    (src / "fit.py").write_text("STEP = 1\n")
    monkeypatch.setattr(bench, "ROOT", tmp_path / "src")
    monkeypatch.setattr(bench, "FIT_SOURCES", ("model",))
    before = bench.fit_fingerprint()
    assert bench.fit_fingerprint() == before

    cache = tmp_path / "cache"
    cache.mkdir()
    kept: tuple[str, None, dict, float] = ("pass", None, {}, 1.0)
    (cache / f"misallocated-0-{before}.pkl").write_bytes(pickle.dumps(kept))
    assert bench._fit("misallocated", 0, str(cache), before) == kept

    (src / "fit.py").write_text("STEP = 2\n")  # the attribution model changed
    after = bench.fit_fingerprint()
    assert after != before
    assert not (cache / f"misallocated-0-{after}.pkl").exists()  # so it would be refitted


def test_failed_world_is_scored_against_its_true_optimum() -> None:
    # TikTok far more effective than its budget says: the truth has room the failed model
    # cannot see; the bench must neither hide that room nor score "no plan" as optimal.
    truth = {
        "tiktok": hill("tiktok", spend=100.0, scale=5_000.0, kappa=400.0),
        "search": hill("search", spend=900.0, scale=1_200.0, kappa=150.0),
    }
    row = bench._failed("misallocated", 0, "fail", truth, 1.0)
    assert row.ours == row.current == row.free_risk == row.trust
    assert row.optimum > row.current * 1.05
    assert row.current < row.bounded_optimum <= row.optimum * (1 + 1e-9)
    assert row.ours / row.bounded_optimum < 0.95  # no plan is not "within 5% of the optimum"
    assert row.own_bounds_optimum == row.bounded_optimum  # no plan: no channel of its own held
