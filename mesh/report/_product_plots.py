"""The product analysis's figures: the channel × category heat map and the halo /
cannibalisation network. Apart from products.py, whose text helpers ``liftos products`` reads
without loading matplotlib."""

from __future__ import annotations

import textwrap

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mesh.report._format import num
from mesh.report._svg import new_figure, short_label

_GREEN, _RED, _GREY = "#2e7d32", "#c62828", "#9e9e9e"


def heat_map(result: causal_pb.ProductAnalysisResult) -> Figure:
    """Channel × category incremental return on spend; a cell's text is its incremental
    revenue, hatched where the interval includes zero."""
    channels = list(result.channels)
    categories = sorted({c.category for c in result.cells})
    grid = np.full((len(channels), len(categories)), np.nan)
    text = [["" for _ in categories] for _ in channels]
    weak = np.zeros_like(grid, dtype=bool)
    for c in result.cells:
        i, j = channels.index(c.channel), categories.index(c.category)
        if c.spend.amount > 0:
            grid[i, j] = c.incremental_revenue.estimate / c.spend.amount
            text[i][j] = f"{num(c.incremental_revenue.estimate)}\niROAS {grid[i, j]:.2f}"
            weak[i, j] = not c.significant
        else:
            text[i][j] = "no spend"
    fig, (ax,) = new_figure(0.6 + 0.7 * len(channels))
    finite = grid[np.isfinite(grid)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    img = ax.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn", vmin=-bound, vmax=bound,
                    aspect="auto")  # fmt: skip
    for i in range(len(channels)):
        for j in range(len(categories)):
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=8,
                    color="#555" if weak[i, j] else "#111")  # fmt: skip
            if weak[i, j]:
                ax.add_patch(_hatch(j, i))
    ax.set_xticks(range(len(categories)), [short_label(c) for c in categories])
    ax.set_yticks(range(len(channels)), [short_label(c) for c in channels])
    ax.grid(False)
    fig.colorbar(img, ax=ax, label="iROAS", shrink=0.8)
    return fig


def _hatch(x: float, y: float) -> Rectangle:
    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="//", edgecolor="#bbb", lw=0)


def _short(text: str, width: int = 12) -> str:
    """A node's label on at most two lines (a shop's titles run to two or three words)."""
    lines = textwrap.wrap(text, width) or [text]
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])[: width - 1] + "…"]
    return "\n".join(lines)


def cross_network(result: causal_pb.ProductAnalysisResult) -> Figure:
    """Products as nodes on a circle per category; an arrow from the promoted product to the
    affected one for each claimed pair: green halo, red cannibalisation, width by its share
    of the promoted product's lift. Pairs claimed nothing are not drawn."""
    cats = sorted({p.category for p in result.products})
    # the title, as the explanation and the tables name the product (the id where none)
    label = {p.product_id: p.title or p.product_id for p in result.products}
    # at most three categories a row: a node is labelled with its title, which needs the room
    ncols = max(min(len(cats), 3), 1)
    nrows = max(-(-len(cats) // ncols), 1)
    fig, axes = new_figure(3.2 * nrows, nrows=nrows, ncols=ncols)
    for ax in axes[len(cats) :]:
        ax.axis("off")
    for ax, cat in zip(axes, cats, strict=False):
        nodes = sorted(p.product_id for p in result.products if p.category == cat)
        angle = np.linspace(0, 2 * np.pi, len(nodes), endpoint=False) + np.pi / 2
        pos = {n: (np.cos(a), np.sin(a)) for n, a in zip(nodes, angle, strict=True)}
        for q in result.pairs:
            if q.category != cat or q.kind in (causal_pb.CROSS_EFFECT_KIND_NONE,
                                               causal_pb.CROSS_EFFECT_KIND_UNSPECIFIED):  # fmt: skip
                continue
            share = abs(q.share_of_promoted_lift) if q.HasField("share_of_promoted_lift") else 0.2
            colour = _GREEN if q.kind == causal_pb.CROSS_EFFECT_KIND_HALO else _RED
            (x0, y0), (x1, y1) = pos[q.promoted_product_id], pos[q.affected_product_id]
            ax.annotate("", xy=(x1 * 0.85, y1 * 0.85), xytext=(x0 * 0.85, y0 * 0.85),
                        arrowprops={"arrowstyle": "-|>", "color": colour,
                                    "lw": 0.8 + 4 * min(share, 1.0),
                                    "connectionstyle": "arc3,rad=0.15"})  # fmt: skip
        for n, (x, y) in pos.items():
            ax.scatter([x], [y], s=60, color=_GREY, zorder=3)
            ax.text(x * 1.22, y * 1.22, _short(label.get(n, n)), ha="center", va="center",
                    fontsize=7)  # fmt: skip
        ax.set_title(cat, fontsize=9)
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(-1.5, 1.5)
        ax.set_aspect("equal")
        ax.axis("off")
    return fig
