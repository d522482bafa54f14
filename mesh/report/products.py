"""The product analysis (AnalyzeProducts) as a report and as the ``liftos products`` view:
which products each channel really sells, which promotions mostly cannibalise, and the
channel × category heat map and halo / cannibalisation network. Pure: wire messages in.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.report._format import esc, num
from mesh.report._page import Section, table

if TYPE_CHECKING:
    from mesh.report.effect import Figures

__all__ = [
    "CANNIBAL_SHARE",
    "NO_MOVE",
    "PRODUCT_ROWS_NOTE",
    "SIGN_NOTE",
    "Promotion",
    "below_spend_cells",
    "channel_sells",
    "losing_cells",
    "margin_verdict",
    "net_margin",
    "product_sections",
    "promotions",
    "refund_rates",
    "refund_words",
]

# A promotion "mostly cannibalises" when its category keeps less than this share of its lift
# (the lift plus its effects on every sibling), shown at the analysis's claim level (the sd of
# the net less half the lift from the analysis's joint intervals, promotion_nets, else the
# pairs' sds summed): the rule of mesh.runtime.promotions, which Recommend's STOP_PROMOTION
# and the explanation import. The import floors keep the report on wire messages alone, so it
# is restated here and tests/report/test_product_verdicts.py holds the two to the same
# answers. Not "only": the category may still gain, and the verdict says how much.
CANNIBAL_SHARE = 0.5


def _span(i: object) -> str:
    return f"{num(i.estimate)} [{num(i.lower)}, {num(i.upper)}]"  # type: ignore[attr-defined]


def _span_cell(i: object) -> str:
    """:func:`_span` for a table cell: the bounds on a line of their own under the estimate,
    so the cell table's three interval columns fit the page's width."""
    bounds = f"[{num(i.lower)}, {num(i.upper)}]"  # type: ignore[attr-defined]
    return f'{num(i.estimate)}<span class="ci">{esc(bounds)}</span>'  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Span:
    estimate: float
    lower: float
    upper: float


def refund_rates(result: causal_pb.ProductAnalysisResult) -> dict[str, float]:
    """Each category's refunds over its net sales in the window (its CategorySummary): the
    share the margin net of refunds takes off, as the analysis computes it
    (causal_svc.products.estimate, "Margin")."""
    return {
        c.category: min(max(c.refunds / c.revenue, 0.0), 1.0) if c.revenue > 0 else 0.0
        for c in result.categories
    }


def net_margin(c: causal_pb.ChannelCategoryEffect, rates: dict[str, float]) -> Span:
    """A cell's incremental margin net of refunds: its margin (which is before refunds, as its
    revenue is) times one less its category's refund rate, the interval scaled alike. It
    assumes the extra sales are refunded at the category's rate and a refund restocks the
    goods; the wire has no field of its own for it, so the view derives it here."""
    keep = 1.0 - rates.get(c.category, 0.0)
    m = c.incremental_margin
    return Span(m.estimate * keep, m.lower * keep, m.upper * keep)


def refund_words(result: causal_pb.ProductAnalysisResult) -> str:
    """The refund rate taken off each category's margin, e.g. ``Bags 4.7%, Tops 12.0%``."""
    return ", ".join(f"{k} {v:.1%}" for k, v in sorted(refund_rates(result).items()))


def channel_sells(
    result: causal_pb.ProductAnalysisResult, top: int = 5
) -> dict[str, list[causal_pb.ChannelProductEffect]]:
    """Per channel, the products whose incremental revenue it causes, largest first: the
    significant ones (interval above zero), at most ``top``."""
    out: dict[str, list[causal_pb.ChannelProductEffect]] = defaultdict(list)
    for p in sorted(result.product_cells, key=lambda p: -p.incremental_revenue.estimate):
        if p.incremental_revenue.lower > 0 and len(out[p.channel]) < top:
            out[p.channel].append(p)
    return dict(out)


@dataclass(frozen=True, slots=True)
class Promotion:
    """A promoted product with claimed cannibalisation: its lift, what the claimed pairs took
    from whom, and what its category kept (``net``, the lift plus its effects on every
    sibling, with its interval at the tables' level and its upper bound at the claim level)."""

    product_id: str
    category: str
    lift: float
    cannibalised: float
    victims: tuple[str, ...]
    net: float
    net_low: float
    net_high: float
    bound: float
    level: float = 0.9  # the net interval's level (the tables')
    claim_level: float = 0.95  # the level of ``bound``, at which the rule is judged
    sd: float = math.nan  # of the net less half the lift, the quantity the rule judges

    @property
    def share(self) -> float:
        return self.cannibalised / self.lift if self.lift > 0 else float("inf")

    @property
    def mostly_cannibalises(self) -> bool:
        return self.bound < (1.0 - CANNIBAL_SHARE) * self.lift

    def verdict(self, currency: str = "") -> str:
        """The rule's answer, worded as what the figures are: a net loss is "lost", and the
        interval printed is that of the quantity the rule judges (the net less half the lift)
        at the claim level it judges at, in both verdicts (R25-F2: the net's 90% interval
        reached above half the lift beside "mostly cannibalises")."""
        if not self.mostly_cannibalises and self.net >= (1.0 - CANNIBAL_SHARE) * self.lift:
            return "adds net revenue"
        net = self.net_words(currency)
        if self.mostly_cannibalises:
            return f"mostly cannibalises ({net})"
        return f"not shown to take most of its lift: {net}"

    def net_words(self, currency: str = "") -> str:
        """What the category kept (or lost) net of every sibling, and the rule's evidence
        (restates mesh.runtime.promotions.rule_words, which Recommend's stop prints)."""
        unit = f" {currency}" if currency else ""
        if self.net >= 0:
            kept = f", {self.net / self.lift:.0%} of the lift" if self.lift > 0 else ""
            head = f"the category kept {self.net:,.0f}{unit} net{kept}"
        else:  # the siblings lost more than the promoted product gained
            head = f"the category lost {-self.net:,.0f}{unit} net, more than the whole lift"
        half = (1.0 - CANNIBAL_SHARE) * self.lift
        d, upper = self.net - half, self.bound - half
        lower = 2.0 * d - upper  # the interval is symmetric about the estimate
        side = (
            "wholly below zero: shown to keep less than half the lift"
            if self.mostly_cannibalises
            else "not wholly below zero: not shown to keep less than half the lift"
        )
        return (
            f"on the point estimate {head}; the net less half the lift ({half:,.0f}{unit}) is "
            f"{d:,.0f}{unit}, {self.claim_level:.0%} interval (the claim level) "
            f"{lower:,.0f} to {upper:,.0f}{unit}, {side}"
        )


def promotions(result: causal_pb.ProductAnalysisResult) -> list[Promotion]:
    """Promoted products with at least one claimed cannibalisation, the worst first."""
    by: dict[str, list[causal_pb.ProductPairEffect]] = defaultdict(list)
    for q in result.pairs:
        by[q.promoted_product_id].append(q)
    level = result.interval_level
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    z_claim = NormalDist().inv_cdf(0.5 + result.claim_level / 2.0)
    joint = {n.promoted_product_id: n for n in result.promotion_nets}
    out = []
    for pid, pairs in by.items():
        taken = [q for q in pairs if q.kind == causal_pb.CROSS_EFFECT_KIND_CANNIBALISATION]
        if not taken:
            continue
        if pid in joint:  # the analysis's joint intervals: sd of the net less half the lift
            n = joint[pid]
            net, low, high = (getattr(n.net_category_change, k) for k in ("estimate", "lower",
                                                                          "upper"))  # fmt: skip
            v_l, v_s, v_n = (((i.upper - i.lower) / (2.0 * z)) ** 2 for i in (
                n.promoted_lift, n.sibling_change, n.net_category_change))  # fmt: skip
            s = CANNIBAL_SHARE
            sd = math.sqrt(max(v_s + s**2 * v_l + s * (v_n - v_l - v_s), 0.0))
        else:  # stored before them: the sum of the pairs' sds, a bound whatever their correlation
            found = [q.revenue_change for q in pairs if math.isfinite(q.revenue_change.estimate)]
            net = pairs[0].promoted_lift + sum(i.estimate for i in found)
            sd = sum(max(i.upper - i.lower, 0.0) / (2.0 * z) for i in found)
            low, high = net - z * sd, net + z * sd
        out.append(Promotion(
            pid, pairs[0].category, pairs[0].promoted_lift,
            -sum(q.revenue_change.estimate for q in taken),
            tuple(q.affected_product_id for q in taken),
            net, low, high, net + z_claim * sd, level, result.claim_level, sd,
        ))  # fmt: skip
    return sorted(out, key=lambda p: -p.share)


# Why the product view's intervals may reach below zero where the attribution's stop at 0
# (R10-F7): the products model's coefficients are net returns and are not held positive (one
# cell's mROAS point is -0.59 on tests/products' small world), so cutting them at 0 would cut
# what the model allows; the view says so instead.
SIGN_NOTE = (
    "intervals (revenue, margin, mROAS) may reach below zero: each product's coefficient is "
    "its category's net return on the channel's spend there (its own lift plus the halo it "
    "spreads, less what it takes from its siblings) and is not held positive, unlike the "
    "attribution's channel effects, whose intervals stop at 0"
)
# The product rows are another estimator's (R10-F7: they summed to 0.84-1.16x their cell).
PRODUCT_ROWS_NOTE = (
    "each product's row comes from its own equation, estimated apart from the channel × "
    "category cells: the rows are not a breakdown of a cell and need not add up to it"
)

# What the mROAS column is, and that a move between categories is decided on its interval (an
# older analysis has none: "–", and Recommend moves nothing there).
_MROAS_NOTE = (
    '<p class="note">Revenue and margin: incremental, over the period; revenue is net sales '
    "before refunds; net margin is the margin net of refunds (the margin times one less the "
    "category's refund rate, said below the table). iROAS: the incremental revenue per unit "
    "of the channel's spend on the category (1 returns the spend in revenue; in margin, the "
    "spend comes back only where the net margin column is above the spend). mROAS: "
    "the revenue of the next unit of a channel's spend on the category "
    "at the period's spend (the response curve's slope there, not its average), with its "
    "interval over the curve's slope, saturation and decay. Recommend moves spend between a "
    "channel's categories only where these intervals separate; – where the analysis "
    "does not report it. "
    '</p><p class="note">'  # why intervals may cross zero (R10-F7), as the CLI says it
    + esc(SIGN_NOTE[0].upper() + SIGN_NOTE[1:])
    + ".</p>"
)

# Recommend's answer when it proposes no product move (the CLI prints the same line).
NO_MOVE = (
    "no move: no channel's category returns clearly differ, no category's campaigns are shown "
    "to lose money, and no promotion mostly cannibalises"
)
_PRODUCT_KINDS = (
    surfacing_pb.RECOMMENDATION_KIND_SHIFT_PRODUCT_SPEND,
    surfacing_pb.RECOMMENDATION_KIND_STOP_PROMOTION,
    surfacing_pb.RECOMMENDATION_KIND_CUT_PRODUCT_SPEND,
)


def titles(result: causal_pb.ProductAnalysisResult) -> dict[str, str]:
    """Each product's name as the explanation writes it: its title, its id after it."""
    return {
        p.product_id: f"{p.title} ({p.product_id})" if p.title and p.title != p.product_id
        else p.product_id
        for p in result.products
    }  # fmt: skip


def below_spend_cells(
    result: causal_pb.ProductAnalysisResult,
) -> list[causal_pb.ChannelCategoryEffect]:
    """Cells whose incremental margin net of refunds is below their spend on the point
    estimate: those :func:`margin_verdict` speaks of (its revenue may still exceed the spend)."""
    rates = refund_rates(result)
    return [c for c in result.cells
            if c.spend.amount > 0 and net_margin(c, rates).estimate < c.spend.amount]  # fmt: skip


def losing_cells(result: causal_pb.ProductAnalysisResult) -> list[causal_pb.ChannelCategoryEffect]:
    """Cells shown to lose money: the whole interval of the incremental margin net of refunds
    is below their spend. Where the interval includes the spend the analysis does not tell a
    loss from a profit (R10-F6: "loses money" said on the point estimate was false for two of
    five such cells on the products simulator world, seed 1)."""
    rates = refund_rates(result)
    return [c for c in result.cells
            if c.spend.amount > 0 and net_margin(c, rates).upper < c.spend.amount]  # fmt: skip


def margin_verdict(
    c: causal_pb.ChannelCategoryEffect, rates: dict[str, float], level: float, currency: str
) -> str:
    """What a cell's margin below its spend on the point estimate says, in words: a loss
    where the interval is below the spend, "not established either way" where it includes it
    (the attribution's "could not detect" discipline, applied to the sign of the profit)."""
    net = net_margin(c, rates)
    cur = f" {currency}" if currency else ""
    head = (
        f"{c.channel} on {c.category}: incremental margin net of refunds {net.estimate:,.0f} "
        f"({level:.0%} interval {net.lower:,.0f} to {net.upper:,.0f}) against a spend of "
        f"{c.spend.amount:,.0f}{cur}"
    )
    if net.upper < c.spend.amount:
        return (f"{head}: the whole interval is below the spend, so at that margin the channel "
                "loses money on the category")  # fmt: skip
    return (f"{head}: below the spend on the point estimate, but the interval includes the "
            "spend, so whether the channel loses money on the category is not established "
            "either way")  # fmt: skip


def _roas_cell(c: causal_pb.ChannelCategoryEffect) -> str:
    if not c.HasField("incremental_roas"):
        return "–"
    i = c.incremental_roas
    if math.isfinite(i.lower) and math.isfinite(i.upper) and i.lower < i.upper:
        # one decimal on the bounds keeps the cell table within the page's width
        bounds = f"[{i.lower:.1f}, {i.upper:.1f}]".replace("-", "−")
        return f'{num(i.estimate)}<span class="ci">{esc(bounds)}</span>'
    return num(i.estimate)


def _margin_cell(c: causal_pb.ChannelCategoryEffect, rates: dict[str, float]) -> str:
    net = net_margin(c, rates)
    cell = _span_cell(net)
    if c.spend.amount > 0 and net.upper < c.spend.amount:
        cell += '<span class="ci">below spend</span>'
    elif c.spend.amount > 0 and net.estimate < c.spend.amount:
        cell += '<span class="ci">point below spend</span>'  # the interval includes it
    return cell


def _losses(result: causal_pb.ProductAnalysisResult) -> str:
    below = below_spend_cells(result)
    if not below:
        return ""
    rates = refund_rates(result)
    items = "".join(
        f"<li>{esc(margin_verdict(c, rates, result.interval_level, result.currency_code))}</li>"
        for c in below
    )
    return f'<p class="note">Margin below spend on the point estimate:</p><ul class="plain note">{items}</ul>'


def _recommend_section(
    result: causal_pb.ProductAnalysisResult, recommendations: surfacing_pb.RecommendResponse | None
) -> Section | None:
    """Recommend's conclusion where it proposes no product move (its moves, when it proposes
    some, are the page's Recommendations section)."""
    if recommendations is None:
        return None
    if any(x.kind in _PRODUCT_KINDS for x in recommendations.recommendations):
        return None
    body = f"<p>Recommend: {esc(NO_MOVE)}.</p>"
    if below_spend_cells(result):
        body += (
            '<p class="note">Recommend moves spend between a channel\'s categories on their '
            "margin returns, and cuts a category's spend where the whole interval of its "
            "margin is below the spend; the cells whose margin is below their spend only on the "
            "point estimate (above) are not shown to lose money, so no cut is proposed, but "
            "they are worth reading before spending more there.</p>"
        )
    return Section("product-recommendations", "Recommendations", body)


def product_sections(
    analysis: causal_pb.Analysis,
    figs: Figures,
    recommendations: surfacing_pb.RecommendResponse | None = None,
) -> list[Section]:
    # the figures load matplotlib (~0.6 CPU-s): here, not at the top, so that `liftos
    # products` reads this module's text helpers without it
    from mesh.report._product_plots import cross_network, heat_map

    r = analysis.products
    cur = r.currency_code
    level = f"{r.interval_level:.0%}"
    name = titles(r)
    head = (
        f"<p>{len(r.products)} products in {len(r.categories)} categories over {r.day_count} "
        f"days, {r.record_count:,} records; {esc(level)} intervals, cross-effects claimed at "
        f"{r.claim_level:.0%}. Method: {esc(r.method)}.</p>"
    )
    warn = "".join(f"<li>{esc(w)}</li>" for w in r.warnings)
    heat = figs.add(
        "product-heat-map", functools.partial(heat_map, r), "Channel × category heat map",
        f"What each channel's spend on a category's products caused ({esc(cur)}, net of the "
        "halo and cannibalisation inside the category); colour is the return per unit of spend, "
        f"hatched where the {esc(level)} interval of the incremental revenue includes zero.",
    )  # fmt: skip
    rates = refund_rates(r)
    refunds = (
        f'<p class="note">Refund rate taken off each category\'s margin (its refunds over its '
        f"net sales in the period, each refund on its order's day): {esc(refund_words(r))}.</p>"
    )
    cells = table(
        [("channel", False), ("category", False), ("spend", True), (f"revenue [{level}]", True),
         (f"net margin [{level}]", True), ("iROAS", True), (f"mROAS [{level}]", True)],
        # a channel's name may break after its underscore: the table keeps to the page's width
        [[esc(c.channel).replace("_", "_<wbr>"), esc(c.category), num(c.spend.amount),
          _span_cell(c.incremental_revenue),
          _margin_cell(c, rates), _roas_cell(c),
          _span_cell(c.marginal_roas) if c.HasField("marginal_roas") else "–"]
         for c in r.cells],
    )  # fmt: skip
    sections = [
        Section(
            "product-health", "Caveats",
            f'<ul class="plain">{warn}</ul>' if warn
            else "<p>The analysis raised no warning.</p>",
        ),
        Section("products", "Products: what each channel sells",
                head + heat + cells + _MROAS_NOTE + refunds + _losses(r)),
    ]  # fmt: skip
    sells = channel_sells(r)
    rows = [[esc(ch), esc(name.get(p.product_id, p.product_id)), esc(p.category),
             num(p.spend.amount), _span(p.incremental_revenue)]
            for ch, ps in sells.items() for p in ps]  # fmt: skip
    if rows:
        sections.append(Section("product-cells", "Products each channel really sells", table(
            [("channel", False), ("product", False), ("category", False), ("spend", True),
             (f"incremental revenue [{level}]", True)], rows,
        ) + f'<p class="note">{esc(PRODUCT_ROWS_NOTE[0].upper() + PRODUCT_ROWS_NOTE[1:])}.</p>'))  # fmt: skip
    network = figs.add(
        "cross-network", functools.partial(cross_network, r), "Halo and cannibalisation",
        "Claimed cross-effects inside each category: an arrow from the promoted product to the "
        "one whose revenue it moved, green for halo, red for cannibalisation, wider for a "
        "larger share of the promoted product's lift. Pairs whose interval includes zero are "
        "not drawn.",
    )  # fmt: skip
    pair_rows = [[esc(name.get(q.promoted_product_id, q.promoted_product_id)),
                  esc(name.get(q.affected_product_id, q.affected_product_id)), esc(q.category),
                  "halo" if q.kind == causal_pb.CROSS_EFFECT_KIND_HALO else "cannibalisation",
                  _span(q.revenue_change)]
                 for q in claimed_pairs(r)]  # fmt: skip
    pairs = table(
        [("promoted", False), ("affected", False), ("category", False), ("claimed", False),
         (f"revenue change ({esc(cur)}) [{level}]", True)], pair_rows,
    ) if pair_rows else ""  # fmt: skip
    promo = promotions(r)
    promo_rows = [[esc(name.get(p.product_id, p.product_id)), esc(p.category), num(p.lift),
                   num(p.cannibalised), f"{p.share:.0%}",
                   esc(", ".join(name.get(v, v) for v in p.victims)),
                   esc(p.verdict(r.currency_code))]
                  for p in promo]  # fmt: skip
    body = network + pairs + (table(
        [("promoted", False), ("category", False), ("own lift", True), ("taken from siblings", True),
         ("share", True), ("from", False), ("verdict", False)], promo_rows,
    ) if promo_rows else "<p>No cannibalisation is claimed.</p>")  # fmt: skip
    sections.append(Section("cross-effects", "Halo and cannibalisation", body))
    rec = _recommend_section(r, recommendations)
    if rec is not None:
        sections.append(rec)
    return sections


def claimed_pairs(result: causal_pb.ProductAnalysisResult) -> Sequence[causal_pb.ProductPairEffect]:
    return [q for q in result.pairs if q.kind in (causal_pb.CROSS_EFFECT_KIND_HALO,
                                                   causal_pb.CROSS_EFFECT_KIND_CANNIBALISATION)]  # fmt: skip
