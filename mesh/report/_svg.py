"""Matplotlib figures as inline SVG: one house style, ids made unique per figure, coordinates
trimmed.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot: no global state, no
GUI backend), saved as SVG with text kept as ``<text>`` (``svg.fonttype: none``) so labels stay
selectable, searchable and crisp in print, and inlined into the page. Several SVGs in one HTML
document share one id space, so each figure's ids get the figure's own prefix.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

# Okabe & Ito (2008), "Color universal design": distinguishable under the common colour-vision
# deficiencies and in greyscale print by lightness.
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
GREY = "#7f7f7f"
LIGHT_GREY = "#d9d9d9"
INK = "#222222"
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, INK)

# Content width of an A4 or Letter page with 15 mm margins is ~7.2 in; figures are drawn at
# that width so 9 pt text prints at 9 pt.
PAGE_WIDTH_IN = 7.0
FONT = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "sans-serif"]

_STYLE: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "liftos-report",
    "font.family": "sans-serif",
    "font.sans-serif": FONT,
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.0,
    "axes.edgecolor": GREY,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=PALETTE),
    "grid.color": "#ececec",
    "grid.linewidth": 0.6,
    "xtick.color": GREY,
    "ytick.color": GREY,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "figure.dpi": 72,
    "axes.formatter.use_mathtext": False,
    # Names are data ("TV $5 off $10", "Promo $$ Sale"): never TeX. With math parsing on, a
    # pair of dollars was drawn as math italics and an odd token crashed the whole report.
    "text.parse_math": False,
    "axes.unicode_minus": True,
}


# The widest data name an axis or legend shows: a 7 in figure keeps room for its plot beside
# labels of this many 8 pt characters.
LABEL_CHARS = 30


def short_label(name: str, width: int = LABEL_CHARS) -> str:
    """A data name (channel, covariate, category) cut to ``width`` characters for a chart, the
    cut in the middle ("Out-of-home digital…rly flight") so the ends that tell names apart
    ("… #1", "… #2") stay. One long name pushed every label of its chart past the figure's
    edge (R22-F5); the page's tables keep the whole name."""
    name = " ".join(name.split())
    if len(name) <= width:
        return name
    tail = max(width // 3, 1)
    return name[: width - tail - 1].rstrip() + "…" + name[-tail:].lstrip()


@contextmanager
def house_style() -> Iterator[None]:
    with mpl.rc_context(_STYLE):
        yield


def new_figure(
    height_in: float,
    *,
    nrows: int = 1,
    ncols: int = 1,
    sharex: bool = False,
    height_ratios: Sequence[float] | None = None,
    width_in: float = PAGE_WIDTH_IN,
    constrained: bool = True,
) -> tuple[Figure, list[Axes]]:
    """A figure at page width with constrained layout (labels are laid out, never overlapped);
    ``constrained=False`` leaves the layout to the caller (large grids of small multiples, where
    the solver costs seconds and a fixed grid does as well)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained" if constrained else None)
    grid = fig.subplots(
        nrows, ncols, sharex=sharex, squeeze=False,
        gridspec_kw={"height_ratios": height_ratios} if height_ratios else None,
    )  # fmt: skip
    return fig, [ax for row in grid for ax in row]


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')
_NUMBER = re.compile(r"(-?\d+\.\d{2})\d+")
# A tag (its attributes hold the coordinates) or a comment (matplotlib repeats each text's
# content there); text between tags is left alone.
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.S)
_HEADER = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


def to_svg(fig: Figure, prefix: str, *, title: str) -> str:
    """The figure as an inline ``<svg>`` element: ids prefixed with ``prefix``, coordinates
    rounded to 0.01 pt, sized by the page (viewBox kept), titled for screen readers."""
    buf = io.StringIO()
    # A text's math parsing is fixed when it is made: one made outside the house style (a
    # caller's own figure) is switched off here too.
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    with house_style():
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _HEADER.sub("", buf.getvalue(), count=1)
    svg = _METADATA.sub("", svg, count=1)
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    svg = _trim_coordinates(svg)
    svg = re.sub(r" \n(?=[LMCz])", " ", svg)
    svg = re.sub(
        r'<svg ([^>]*?)width="[^"]+" height="[^"]+"',
        rf'<svg \1role="img" aria-labelledby="{prefix}-title" class="plot"',
        svg,
        count=1,
    )
    return svg.replace(">", f'><title id="{prefix}-title">{_escape(title)}</title>', 1)


def _trim_coordinates(svg: str) -> str:
    """Numbers inside tags (paths, positions, transforms) cut to 0.01 pt; the text the reader
    sees (tick labels, titles, names: "0.0025", "Radio 101.125 FM") and comments kept whole."""

    def trim(m: re.Match[str]) -> str:
        tag = m.group(0)
        return tag if tag.startswith("<!--") else _NUMBER.sub(r"\1", tag)

    return _TAG.sub(trim, svg)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
