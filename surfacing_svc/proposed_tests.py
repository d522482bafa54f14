"""Recommend's proposed tests, designed as DesignExperiment designs them: a registered test's
window is not business as usual (R5-F4), and the test is checked against the peaks `liftos
design` checks (R51-F3): the analysis's holiday calendar (else the US, as a forecast) and the
org's registered seasons. Recommend keeps only some of a design's warnings; what the proposal
runs into, and what a registered test changes, are said in its answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from surfacing_svc.design import DesignSpec, ExperimentDesign, design_experiment
from surfacing_svc.errors import InsufficientData, InvalidRequest
from surfacing_svc.history import history_from_frame
from surfacing_svc.usual_spend import RegisteredTest, RegisteredTests

__all__ = ["checked_against_peaks", "propose_tests"]

Seasons = Mapping[str, Mapping[dt.date, float]]


def checked_against_peaks(
    spec: DesignSpec, holiday_country: str, seasons: Seasons | None
) -> DesignSpec:
    """``spec`` with the calendar its test is checked against: the analysis's holiday country
    (else the US, whose calendar a forecast reads too) and the org's registered seasons."""
    return replace(spec, country=holiday_country or "US", seasons=seasons or {})


def propose_tests(
    frame: pd.DataFrame,
    metric: str,
    channels: Sequence[str],
    tests: Sequence[RegisteredTest],
    holiday_country: str,
    seasons: Seasons | None,
) -> tuple[dict[str, ExperimentDesign], list[str]]:
    """A go-dark design of each channel on the org's history (``frame``, in ``metric``) and the
    warnings Recommend carries of them, each "proposed test of CHANNEL: ...": the peaks its test
    runs into and the registered tests' caveats; a channel that cannot be designed is said."""
    try:
        history = history_from_frame(frame, metric=metric)
    except InsufficientData as exc:
        return {}, [f"no experiment designed: {exc.message}"]
    designs: dict[str, ExperimentDesign] = {}
    warnings: list[str] = []
    for name in channels:
        spec = checked_against_peaks(DesignSpec(name), holiday_country, seasons)
        try:
            design = design_experiment(history, spec, tests)
        except (InsufficientData, InvalidRequest) as exc:
            warnings.append(f"no experiment designed for {name}: {exc.message}")
            continue
        designs[name] = design
        said = [*design.peak_notes, *design.registry_notes]
        warnings += [f"proposed test of {name}: {n}" for n in said]
    if isinstance(tests, RegisteredTests) and designs:
        warnings += tests.note()
    return designs, warnings
