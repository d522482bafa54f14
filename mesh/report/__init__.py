"""The report a marketing scientist opens: one self-contained HTML page per stored analysis.

``render_report(analysis)`` takes the wire message (``liftos.v1.Analysis``, as GetAnalysis
returns it) and returns the page as a string: figures are inline SVG drawn by matplotlib, the
CSS is inline, there is no script and nothing is fetched, so the file opens anywhere, offline,
and prints as it looks. Pure: no gRPC, no I/O.

Modules: ``effect`` (effect-estimate sections), ``_effect_plots`` (their figures), ``_svg``
(house style, figure → inline SVG), ``_page`` (HTML shell and CSS), ``_format``, ``_data``.
"""

from __future__ import annotations

import datetime as dt

from liftos.v1 import causal_pb2 as causal_pb

from mesh.report._page import Section, page
from mesh.report._svg import house_style
from mesh.report.effect import Figures, effect_sections, method_name

__all__ = ["UnsupportedAnalysis", "render_report"]


class UnsupportedAnalysis(ValueError):
    """The analysis holds a result this report cannot show (e.g. an empty message)."""


def _created(analysis: causal_pb.Analysis) -> str:
    if not analysis.HasField("create_time"):
        return ""
    when = analysis.create_time.ToDatetime(tzinfo=dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def render_report(analysis: causal_pb.Analysis) -> str:
    """The HTML page of one stored analysis."""
    which = analysis.WhichOneof("result")
    figs = Figures("fig-")
    with house_style():
        if which == "estimate":
            e = analysis.estimate
            title = f"Effect of {e.treatment or 'the treatment'} on {e.outcome or 'the outcome'}"
            sections: list[Section] = effect_sections(analysis, figs)
            meta = [
                f"{method_name(e)} ({causal_pb.Estimand.Name(e.estimand).removeprefix('ESTIMAND_')})"
            ]
        else:
            raise UnsupportedAnalysis(f"analysis {analysis.analysis_id!r} holds no effect estimate")
    meta += [f"analysis {analysis.analysis_id}", f"org {analysis.org_id}", _created(analysis)]
    return page(
        title,
        [m for m in meta if m],
        sections,
        "LiftOS report · one self-contained file: figures are inline SVG, nothing is fetched.",
    )
