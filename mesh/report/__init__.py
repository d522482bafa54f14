"""The report a marketing scientist opens: one self-contained HTML page per stored analysis.

``render_report(analysis, …)`` takes wire messages (``liftos.v1.Analysis`` as GetAnalysis
returns it; optionally the explanation from LlmService.Explain and the surfacing service's
answers for the same analysis) and returns the page as a string: figures are inline SVG drawn
by matplotlib, the CSS is inline, there is no script and nothing is fetched, so the file opens
anywhere, offline, and prints as it looks. Pure: no gRPC, no I/O.

Modules: ``render`` (the page, ``render_report``, loaded on first use: matplotlib costs ~0.6
CPU-s and the CLI's text-only readers of ``explanation`` and ``products`` never need it);
``effect`` (effect-estimate sections) with ``_effect_plots``; ``products`` (the product
analysis: its tables and the ``liftos products`` view) with ``_product_plots`` (heat map, halo /
cannibalisation network); ``plan`` (attribution and surfacing sections) with ``_plan_plots``;
``explanation``; ``_svg`` (house style, figure → inline SVG), ``_page`` (HTML shell and CSS),
``_format``, ``_data``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["UnsupportedAnalysis", "render_report"]

if TYPE_CHECKING:
    from mesh.report.render import render_report


class UnsupportedAnalysis(ValueError):
    """The analysis holds a result this report cannot show (e.g. an empty message)."""


def __getattr__(name: str) -> Any:
    """``render_report`` on first use (PEP 562), so that importing a submodule does not load
    matplotlib."""
    if name == "render_report":
        from mesh.report.render import render_report

        return render_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
