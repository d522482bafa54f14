"""R10-F14: one effect estimate's figure is the same estimand, in the same words, in the
report (header and numbers), the estimate CLI and the grounded explanation: it said "difference
in means (ATE)", "per treated geo-day" and "on average across all units"."""

from __future__ import annotations

from typing import Any

from liftos.v1 import causal_pb2 as causal_pb

from llm_svc.convert import analysis_from_proto
from llm_svc.evidence import Audience
from llm_svc.writer import write
from mesh.cli.estimate import _estimate_summary, render_table
from mesh.report import render_report
from tests.report.analyses import effect_analysis

WORDS = "average treatment effect (ATE) per geo-day"


def _cli_out(a: causal_pb.Analysis) -> dict[str, Any]:
    """The estimate as `liftos estimate` holds it (mesh.cli.estimate.to_json's keys)."""
    e = a.estimate
    return {
        "analysis_id": a.analysis_id, "method": "difference_in_means",
        "estimand": causal_pb.Estimand.Name(e.estimand).removeprefix("ESTIMAND_").lower(),
        "point_estimate": e.point_estimate, "std_error": e.std_error, "ci_lower": e.ci_lower,
        "ci_upper": e.ci_upper, "alpha": e.alpha, "p_value": e.p_value, "n": e.n,
        "supported": e.supported, "strategy": {"reason": e.strategy.reason}, "checks": [],
        "warnings": [], "summary": e.summary,
    }  # fmt: skip


def test_every_surface_words_the_estimand_alike() -> None:
    a = effect_analysis("difference_in_means")
    assert a.estimate.estimand == causal_pb.ESTIMAND_ATE
    a.request.roles.unit, a.request.roles.time = "geo", "day"  # a geo × day panel
    html = render_report(a)
    assert f"Difference in means: {WORDS}" in html or f"difference in means: {WORDS}" in html
    assert "(ATE)</" not in html.replace(f"{WORDS}", "")  # no bare "ATE" row or header
    assert f"<td>{WORDS}</td>" in html or f">{WORDS}<" in html
    table = render_table(_cli_out(a), "geo", "day")
    assert f"estimand   {WORDS}" in table
    assert f"the {WORDS}, 95% CI" in _estimate_summary(_cli_out(a), "geo", "day")
    explained = " ".join(s.text for s in write([analysis_from_proto(a)], Audience.DATA_SCIENTIST))
    assert f", the {WORDS} (" in explained and f"The estimand is the {WORDS}" in explained
    assert "across all units" not in explained and "per treated" not in table + html


def test_without_an_observation_the_words_are_the_estimand_alone() -> None:
    a = effect_analysis("difference_in_means")  # unit-level data: no unit or time role
    html = render_report(a)
    assert "average treatment effect (ATE)" in html and "per -" not in html
    assert "estimand   average treatment effect (ATE)\n" in render_table(_cli_out(a))


def test_the_report_restates_the_shared_estimand_words() -> None:
    # The import floors keep mesh.report on wire messages, so it restates
    # mesh.runtime.estimand: the page and every other surface must say the same words.
    from mesh.report._format import estimand_words as page_words
    from mesh.runtime.estimand import estimand_words as shared_words

    for estimand in ("ate", "ATT", "ESTIMAND_LATE", "cate", "", "unspecified", "other"):
        for unit, time in (
            ("geo", "day"),
            ("geo", ""),
            ("", "day"),
            (" store ", " week "),
            ("geo", "date"),
            ("geo", "week_start"),
            ("region", "wave"),
            ("", ""),
        ):
            assert page_words(estimand, unit, time) == shared_words(estimand, unit, time)


def test_a_time_column_named_for_its_type_reads_as_a_period() -> None:
    from mesh.runtime.estimand import estimand_words

    # "per geo-date" is no unit of measure, and a "date" column may hold weeks
    assert estimand_words("ate", "geo", "date") == "average treatment effect (ATE) per geo-period"
    assert estimand_words("ate", "geo", "ds").endswith("per geo-period")
    assert estimand_words("att", "store", "week_start").endswith("per store-week")
    assert estimand_words("att", "store", "order_day").endswith("per store-day")
    assert estimand_words("ate", "geo", "wave").endswith("per geo-wave")  # a name kept as given
