"""A mistyped SDK argument is one exception, InvalidArgument (exported by mesh.sdk, a
ValueError), naming the argument and what it takes (R45-F3): before, protobuf's ValueError
named the wire enum ("Enum EstimationMethod has no value defined for name
'ESTIMATION_METHOD_DIFF_IN_DIFF'"), or KeyError, TypeError or AttributeError came out
("'str' object has no attribute 'year'"). ISO-string dates are accepted where a date is; the
date calls are checked against real ingestion and memory servers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk import InvalidArgument, LiftOS, Records


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiftOS]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        peers = PeerConfig.from_env().with_overrides(**{s: r.address for s, r in services.items()})
        with LiftOS(peers, org_id="args") as lo:
            yield lo


FRAME = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "t": [0, 1, 0, 1]})

# (call, the argument named, a word of the choices or the fix the message must hold)
CASES: dict[str, tuple[Callable[[LiftOS], Any], str, str]] = {
    "method": (lambda lo: lo.estimate(FRAME, method="diff_in_diff", outcome="y", treatment="t"),
               "method", "did"),
    "estimand": (lambda lo: lo.estimate(FRAME, outcome="y", treatment="t", estimand="atx"),
                 "estimand", "att"),
    "cluster_inference": (lambda lo: lo.estimate(FRAME, outcome="y", treatment="t",
                                                 cluster_inference="bootstrap"),
                          "cluster_inference", "wild_bootstrap"),
    "control_group": (lambda lo: lo.estimate(FRAME, outcome="y", treatment="t",
                                             control_group="not_yet"),
                      "control_group", "not_yet_treated"),
    "aggregation": (lambda lo: lo.estimate(Records(aggregation="week"), outcome="revenue"),
                    "aggregation", "geo_day"),
    "sources": (lambda lo: lo.estimate(Records(sources=["meta_ads"]), outcome="revenue"),
                "sources", "google_ads"),
    "ingest source": (lambda lo: lo.ingest("shopfy", [], account={"account_id": "a"}),
                      "source", "shopify"),
    "kind": (lambda lo: list(lo.list_analyses(kind="attrib")), "kind", "attribution"),
    "audience": (lambda lo: lo.build_context(["x"], audience="execs"), "audience", "executive"),
    "writer": (lambda lo: lo.explain("x", writer="openai"), "writer", "grounded"),
    "cells": (lambda lo: lo.design_experiment("meta", cells=[("holdot", 0.0)]), "cells",
              "holdout"),
    "outcome": (lambda lo: lo.analyze(outcome="sales"), "outcome", "revenue"),
    "identification": (lambda lo: lo.analyze(identification="geos"), "identification", "geo"),
    "delete source": (lambda lo: lo.delete_records(source="metaa", dry_run=True), "source",
                      "meta"),
    "days": (lambda lo: lo.predict("an-x", days=30.5), "days", "whole number"),
    "multipliers": (lambda lo: lo.counterfactual("an-x", multipliers={"meta": "0.5"}),
                    "multipliers['meta']", "number"),
    "budget": (lambda lo: lo.optimize_budget("an-x", budget="1e5"), "budget", "number"),
    "factor kind": (lambda lo: lo.register_external_factor("x", "macros", {}), "kind", "macro"),
    "active_on": (lambda lo: list(lo.list_experiments(active_on="20/12/2024")), "active_on",
                  "YYYY-MM-DD"),
    "start": (lambda lo: lo.design_experiment("meta", start="Feb 1"), "start", "YYYY-MM-DD"),
    "history": (lambda lo: lo.design_experiment("meta", history=("2024-09-15", "2024-13-01")),
                "history[1]", "YYYY-MM-DD"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistyped_argument_is_invalid_argument_naming_it(client: LiftOS, case: str) -> None:
    call, argument, hint = CASES[case]
    with pytest.raises(InvalidArgument) as info:
        call(client)
    # what protobuf raised before: a ValueError for a name, a TypeError for a type (V2-F7)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert info.value.field == argument, info.value.violations
    message = str(info.value)
    assert argument in message and hint in message, message
    assert "Enum " not in message and "UNSPECIFIED" not in message, message


def test_iso_string_dates_are_dates(client: LiftOS) -> None:
    assert list(client.list_experiments(active_on="2024-12-20")) == []
    stored = client.register_external_factor(
        "fx_probe", "macro", {"2024-01-01": 1.0, dt.date(2024, 1, 2): 2.0,
                              pd.Timestamp("2024-01-03"): 3}
    )  # fmt: skip
    assert stored == 3
    [series] = client.list_external_factors(include_values=True)
    days = [(v.date.year, v.date.month, v.date.day, v.value) for v in series.values]
    assert days == [(2024, 1, 1, 1.0), (2024, 1, 2, 2.0), (2024, 1, 3, 3.0)]


def test_a_whole_float_is_a_day_count() -> None:
    from mesh.sdk._base import as_whole

    assert as_whole(30.0, "days") == 30
