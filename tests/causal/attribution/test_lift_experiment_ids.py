"""Copies of one lift test are counted once; tests that only share an experiment id are not
copies (V2 F3: matched on the id alone, a second channel's or a later window's test was dropped
as "passed twice")."""

from __future__ import annotations

import datetime as dt

from causal_svc.attribution.calibration import LiftTest, one_per_experiment

SEP = (dt.date(2024, 9, 1), dt.date(2024, 9, 28))
NOV = (dt.date(2024, 11, 1), dt.date(2024, 11, 28))


def _test(channel: str, window: tuple[dt.date, dt.date], lift: float, **kw: object) -> LiftTest:
    return LiftTest(channel, *window, lift=lift, stderr=lift / 5, name="q3-test", **kw)  # type: ignore[arg-type]


def test_one_id_over_two_channels_and_windows_keeps_every_test() -> None:
    search, social, later = (
        _test("search", SEP, 50_000),
        _test("social", SEP, 20_000),
        _test("search", NOV, 9_000),
    )
    kept, warnings = one_per_experiment([search, social, later], [])
    assert kept == [search, social, later]
    (warning,) = warnings
    assert "experiment id q3-test names 3 different tests" in warning
    assert "social 2024-09-01..2024-09-28" in warning and "its own experiment id" in warning


def test_copies_are_still_counted_once() -> None:
    search, social = _test("search", SEP, 50_000), _test("social", SEP, 20_000)
    kept, warnings = one_per_experiment([search, social, _test("search", SEP, 50_000)], [])
    assert kept == [search, social]
    assert any("passed twice (calibration[0] and calibration[2])" in w for w in warnings)
    # the registry's copy (with its geos) stands for the request's; its other channel is kept
    held = _test("search", SEP, 48_000, geos=("US-CA", "US-NY"))
    other = _test("social", NOV, 7_000, geos=("US-TX",))
    kept, warnings = one_per_experiment([search, search], [held, other])
    assert kept == [held, other]
    assert "counted once, as the registry holds it (over its 2 treated geos)" in warnings[0]
    assert "as calibration[0], as the registry holds it" in warnings[1]
    assert "names 2 different tests" in warnings[2]


def test_registered_cells_with_other_geos_are_not_copies() -> None:
    """A multi-cell GeoLift export: one id, one channel and window, two cells of other geos."""
    east = _test("search", SEP, 30_000, geos=("US-NY", "US-MA"))
    west = _test("search", SEP, 25_000, geos=("US-CA",))
    kept, warnings = one_per_experiment([_test("search", SEP, 30_000)], [east, west])
    assert kept == [east, west]
    assert "names 2 different tests" in warnings[-1]
