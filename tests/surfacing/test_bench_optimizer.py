"""The OptimizeBudget bench's bookkeeping: which cached fit it reuses, how a world whose
model failed is scored (the room at the optimum is the world's, not the model's), and the
lift-test diagnostic's tests."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
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


def _refit(*args: object) -> None:
    raise AssertionError("the bench refitted a world it had cached")


def test_lift_diagnostic_measures_the_truth_with_its_stated_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--lift tiktok:0.2``: one whole-window test of TikTok per world, centred on the DGP's
    own incremental revenue, its standard error 20% of it, its noise fixed by the seed; the
    cached fit is named by it, so a calibrated fit is never read as the plain one."""
    from bench.surfacing_worlds import true_curves, true_inputs
    from tests.causal.attribution.world import world

    w = world("misallocated", 0, days=60, n_geos=5)
    assert bench.lift_tests(w, 0) == []
    monkeypatch.setattr(bench, "LIFTS", (("tiktok", 0.2, 0),))
    (test,) = bench.lift_tests(w, 0)
    # The whole window in every geo: the channel's whole expected incremental revenue.
    truth = true_curves(w.result)["tiktok"]
    expected = float(truth.mean_outcome(truth.reference_spend))
    assert test.channel == "tiktok" and expected > 0 and test.geos == ()
    assert test.stderr == pytest.approx(0.2 * expected)
    assert test.lift != expected and abs(test.lift / expected - 1) < 0.2 * 4
    assert (test.start, test.end) == (w.panel.dates[0], w.panel.dates[-1])
    assert bench.lift_tests(w, 0) == [test]  # the same world draws the same test
    assert bench.lift_tests(w, 1)[0].lift != test.lift

    # The last 14 days in a third of the 5 geos: a small part of the whole, carry-over in.
    monkeypatch.setattr(bench, "LIFTS", (("tiktok", 0.3, 14),))
    (local,) = bench.lift_tests(w, 0)
    assert len(local.geos) == 1 and local.geos[0] in w.panel.geos
    assert (local.start, local.end) == (w.panel.dates[-14], w.panel.dates[-1])
    x, pop, log_index, t = true_inputs(w.result)
    window = np.zeros_like(x["tiktok"], dtype=bool)
    window[:, -14:] = True
    every_geo = bench._dark_lift(x["tiktok"], window, pop, log_index, t["aov"],
                                 t["media"]["tiktok"])  # fmt: skip
    assert 0 < local.stderr / 0.3 < every_geo < expected

    monkeypatch.setattr(bench, "LIFTS", (("tiktok", 0.2, 0),))
    kept = ("pass", None, {}, 1.0)
    monkeypatch.setattr(bench, "world", _refit)
    (tmp_path / "misallocated-0-fp.pkl").write_bytes(pickle.dumps(kept))
    with pytest.raises(AssertionError, match="refitted"):  # the plain fit is not reused
        bench._fit("misallocated", 0, str(tmp_path), "fp")
    (tmp_path / "misallocated-0-fp-lift-tiktok-0.2.pkl").write_bytes(pickle.dumps(kept))
    assert bench._fit("misallocated", 0, str(tmp_path), "fp") == kept


def test_squeeze_reads_the_slope_of_each_returns_column_on_the_truth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Draws' mean 0.5 + 0.25 × truth (squeezed), the table's point estimate the truth itself;
    # a channel the table shows no mROAS for is left out of the table's slope only.
    truth = np.array([0.1, 0.5, 1.0, 2.0])
    world = {"a": hill("a", spend=1.0, scale=2.0, kappa=1.0)}
    base = bench._failed("misallocated", 0, "pass", world, 1.0)
    rows = []
    for k in range(2):
        returns = {f"c{i}": (0.5 + 0.25 * t, t if i or k else np.nan, t)
                   for i, t in enumerate(truth)}  # fmt: skip
        rows.append(replace(base, seed=k, returns=returns))
    bench.squeeze(rows)
    out = capsys.readouterr().out
    assert "over 8 channel-worlds" in out
    assert "draws' mean (planned) 0.250 (corr 1.00)" in out
    assert "table's point estimate 1.000 (corr 1.00)" in out
