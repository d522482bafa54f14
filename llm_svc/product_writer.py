"""The grounded writer for a product analysis (AnalyzeProducts): which products each channel
really sells, which promotions mostly move sales between siblings, and the net incremental
margin — every figure a cited fact, nothing stated beyond what its interval supports.

==========================  =================================================================
effect state                wording
==========================  =================================================================
interval excludes zero      "google shopping's spend raised Footwear revenue by 108,251 (90%
                            CI 40,139 to 176,363), and its margin net of refunds by …"
interval includes zero      "meta catalogue's spend on Tops is not distinguishable from zero
                            in Tops revenue: -11,975, 90% CI -54,557 to 30,607"
pair the analysis claimed   "promoting A raised B's revenue by 5,332 (90% CI …)" (halo) or
                            "… cut B's revenue by …" (cannibalisation)
pair excluding zero at the  "promoting A may have cut B's revenue …, short of the 95% level
interval, not claimed       at which the analysis calls a pair"
==========================  =================================================================

A cell is net of the halo and cannibalisation inside its category (the analysis's own
definition); its margin is that revenue at the category's margin rate, net of the category's
refunds (as the product view shows it). Which channels and
products are named follows the audience: executives get each channel's established
categories, its best-selling product and the promotions that mostly cannibalise; analysts and
data scientists every established cell, the categories not distinguishable from zero with
their figures, three products per channel, every claimed pair, the method and its caveats.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from llm_svc.evidence import Analysis, Audience, Effect, Metric, ProductRole
from llm_svc.numbers import fmt, fmt_pct
from llm_svc.vocabulary import listing
from llm_svc.writer import (
    Sentence,
    _amount,
    _Builder,
    _change,
    _interval,
    assumptions,
    caveats,
    money,
    window,
)
from mesh.runtime.promotions import (
    CANNIBAL_SHARE,
    joint_sd,
    mostly_cannibalises,
    net_category_lift,
)

__all__ = ["ONLY_CANNIBALISES", "product_headline", "product_next_step", "product_sentences"]

# The share of its lift a promotion's category must be shown to lose before it "mostly moves
# sales between siblings": the one rule of Recommend, the report and this writer
# (mesh.runtime.promotions).
ONLY_CANNIBALISES = CANNIBAL_SHARE


def _role(e: Effect) -> ProductRole:
    assert e.role is not None
    return e.role


def _channel(role: ProductRole) -> str:
    return role.channel.replace("_", " ")


def _title(b: _Builder, fact: str, title: str) -> _Builder:
    return b.f(fact, title) if fact else b.t(title)


def _figures(b: _Builder, analysis: Analysis, e: Effect) -> _Builder:
    """``by 5,332 USD (90% CI 2,667 to 7,998 USD)``; a cut as its signed change, in the sign
    of its interval: ``: -426,535 USD (90% CI -510,588 to -342,482 USD)``."""
    unit = money(analysis, e)
    _change(b, e, unit).t(" (")
    return _interval(b, e, unit=unit).t(")")


def _flat(b: _Builder, analysis: Analysis, e: Effect) -> _Builder:
    """``: -11,975 USD, 90% CI -54,557 to 30,607 USD`` (an interval that includes zero)."""
    unit = money(analysis, e)
    _amount(b.t(": "), e.prefix + e.point_fact, e.point, unit).t(", ")
    return _interval(b, e, unit=unit)


def _verb(e: Effect) -> str:
    return "raised" if e.point >= 0 else "cut"


def _cell(analysis: Analysis, e: Effect, margin: Effect | None = None) -> _Builder:
    """A channel x category cell: its revenue (or margin) and, when given, its margin."""
    role = _role(e)
    b = _Builder(analysis.analysis_id)
    if e.metric is Metric.ROAS:
        b.t(f"{_channel(role)}'s incremental ROAS on {role.category} ")
        if e.spans_zero:
            return _flat(b.t("is not distinguishable from zero"), analysis, e).t(".")
        b.t("is ").f(e.prefix + e.point_fact, fmt(e.point)).t(" (")
        return _interval(b, e).t(") of revenue per unit of spend.")
    what = f"{role.category} {e.outcome}"
    if e.spans_zero:
        b.t(f"{_channel(role)}'s spend on {role.category} is not distinguishable from zero in ")
        return _flat(b.t(what), analysis, e).t(".")
    _figures(b.t(f"{_channel(role)}'s spend {_verb(e)} {what}"), analysis, e)
    if margin is not None:
        if margin.spans_zero:
            b.t("; its effect on margin net of refunds is not distinguishable from zero")
            _flat(b, analysis, margin)
        else:
            _figures(b.t(", and its margin net of refunds"), analysis, margin)
            spent = f"cells[{role.channel}/{role.category}].spend"
            spend = analysis.statistics.get(spent)
            if spend is not None and margin.upper < spend:
                # revenue above spend can still lose money: the margin is what is kept
                _amount(b.t(", below the "), spent, spend, analysis.currency)
                b.t(" it spent there, so at that margin ")
                b.t(f"{_channel(role)} loses money on {role.category}")
            elif spend is not None and margin.point < spend:
                # below spend on the point only: the interval reaches it, as CheckClaims reads
                # a loss (R10-F6), so a loss is not stated
                _amount(b.t(", below the "), spent, spend, analysis.currency)
                b.t(" it spent there on the point ")
                b.t("estimate, but its interval reaches that spend, so it is not established ")
                b.t(f"that {_channel(role)} loses money on {role.category}")
    return b.t(".")


def _product(analysis: Analysis, e: Effect) -> _Builder:
    role = _role(e)
    b = _Builder(analysis.analysis_id)
    if e.spans_zero:
        b.t(f"{_channel(role)}'s spend on ")
        _title(b, role.product_fact, role.product).t(
            " is not distinguishable from zero in its revenue"
        )
        return _flat(b, analysis, e).t(".")
    b.t(f"{_channel(role)}'s spend {_verb(e)} ")
    _title(b, role.product_fact, role.product).t("'s revenue")
    return _figures(b, analysis, e).t(".")


def _pair(analysis: Analysis, e: Effect) -> _Builder:
    role = _role(e)
    b = _Builder(analysis.analysis_id)
    _title(b.t("promoting "), role.product_fact, role.product)
    if e.spans_zero:
        b.t(" is not distinguishable from zero in ")
        _title(b, role.affected_fact, role.affected).t("'s revenue")
        return _flat(b, analysis, e).t(".")
    hedge = role.cross == "none"  # beyond the interval, short of the claim level
    b.t(f" {'may have ' if hedge else ''}{'raised' if e.point >= 0 else 'cut'} ")
    _title(b, role.affected_fact, role.affected).t("'s revenue")
    _figures(b, analysis, e)
    if hedge:
        level = analysis.statistics.get("claim_level", 0.95)
        b.t(", short of the ").f("claim_level", f"{round(100 * level)}%")
        b.t(" level at which the analysis calls a pair halo or cannibalisation")
    return b.t(".")


def product_headline(analysis: Analysis, e: Effect) -> Sentence:
    """The one sentence that says what the evidence supports about this effect."""
    write = {"cell": _cell, "product": _product, "pair": _pair}[_role(e).kind]
    return write(analysis, e).build()


def product_next_step(analysis: Analysis, e: Effect) -> Sentence:
    b = _Builder(analysis.analysis_id)
    if e.spans_zero:
        return b.t(
            "next step: more weeks of spend that varies by category would narrow the intervals "
            "that cannot yet tell a small effect from none."
        ).build()
    return b.t(
        "next step: plan each category campaign with the lower end of its interval, not its "
        "point estimate."
    ).build()


def _by_channel(effects: list[Effect]) -> dict[str, list[Effect]]:
    out: dict[str, list[Effect]] = {}
    for e in effects:
        out.setdefault(_role(e).channel, []).append(e)
    return dict(sorted(out.items()))


_Bounds = tuple[float, float, float]


def _joint(
    statistics: Mapping[str, float], pair_fact: str
) -> tuple[_Bounds, _Bounds, _Bounds] | None:
    """The promoted product's joint (lift, sibling change, net) intervals the analysis reports,
    by the product id of its pair's fact prefix (``pairs[<promoted>><affected>].``)."""
    pid = pair_fact.removeprefix("pairs[").split(">")[0]
    key = f"promotion_nets[{pid}]."
    names = ("promoted_lift", "sibling_change", "net_category_change")
    try:
        return tuple(  # type: ignore[return-value]
            tuple(statistics[f"{key}{n}.{b}"] for b in ("estimate", "lower", "upper"))
            for n in names
        )
    except KeyError:
        return None


def _promotions(analysis: Analysis, pairs: list[Effect], *, every: bool) -> Iterator[Sentence]:
    """Per promoted product: its claimed pairs (all, or only those of a promotion that mostly
    cannibalises), then the sentence saying it mostly moves sales, where it does."""
    promoted: dict[str, list[Effect]] = {}
    every_pair: dict[str, list[Effect]] = {}
    for e in pairs:
        every_pair.setdefault(_role(e).product, []).append(e)
        if _role(e).cross in ("halo", "cannibalisation") and not e.spans_zero:
            promoted.setdefault(_role(e).product, []).append(e)
    level = analysis.statistics.get("interval_level", 0.9)
    claim_level = analysis.statistics.get("claim_level", 0.95)
    for product, claimed in sorted(promoted.items(), key=lambda kv: -(_role(kv[1][0]).lift or 0.0)):
        cann = [e for e in claimed if _role(e).cross == "cannibalisation" and e.point < 0]
        taken = -sum(_role(e).share or 0.0 for e in cann)
        lift = _role(claimed[0]).lift or 0.0
        joint = _joint(analysis.statistics, _role(claimed[0]).pair_fact)
        if joint is None:  # stored before the joint intervals: the pairs' sds summed
            changes = [(e.point, e.lower, e.upper) for e in every_pair[product]]
            net, sd = net_category_lift(lift, changes, level)
        else:
            net, sd = joint[2][0], joint_sd(*joint, level)
        mostly = bool(cann) and mostly_cannibalises(lift, net, sd, claim_level)
        if every or mostly:
            for e in claimed if every else cann:
                yield _pair(analysis, e).build()
        if mostly:
            role = _role(cann[0])
            b = _Builder(analysis.analysis_id)
            _title(b.t("promoting "), role.product_fact, role.product)
            # worded without a causal verb ("produces" would read as one): the pairs above
            # are the claims, this is their sum over the promoted product's own gain
            b.t(" mostly moves sales between siblings: what it takes from them comes to ")
            shares = (
                f"derived:-({role.pair_fact}share_of_promoted_lift)"
                if len(cann) == 1
                else "derived:-sum(" + ", ".join(
                    f"{_role(e).pair_fact}share_of_promoted_lift" for e in cann
                ) + ")"
            )  # fmt: skip
            b.f(shares, fmt_pct(taken)).t(" of its own gain of ")
            _amount(b, f"{role.pair_fact}promoted_lift", lift, analysis.currency).t(".")
            yield b.build()


def product_sentences(analysis: Analysis, audience: Audience) -> Iterator[Sentence | None]:
    """The explanation of a product analysis for ``audience``, sentence by sentence (None
    where a sentence does not apply)."""
    brief = audience is Audience.EXECUTIVE
    cells = [
        e for e in analysis.effects
        if e.role is not None and e.role.kind == "cell" and e.metric is Metric.OUTCOME
    ]  # fmt: skip
    revenue = [e for e in cells if e.outcome == "revenue"]
    margin = {(_role(e).channel, _role(e).category): e for e in cells if e.outcome == "margin"}
    for channel, mine in _by_channel(revenue).items():
        sold = sorted(
            (e for e in mine if not e.spans_zero),
            key=lambda e: -(margin.get((channel, _role(e).category)) or e).point,
        )
        for e in sold:
            yield _cell(analysis, e, margin.get((channel, _role(e).category))).build()
        flat = [e for e in mine if e.spans_zero]
        if flat and brief:
            b = _Builder(analysis.analysis_id)
            names = listing(sorted(_role(e).category for e in flat))
            b.t(f"{_channel(_role(flat[0]))}'s spend on {names} is not distinguishable from zero")
            yield b.t(" in their revenue.").build()
        elif flat:
            for e in flat:
                yield _cell(analysis, e).build()
    products = [e for e in analysis.effects if e.role is not None and e.role.kind == "product"]
    for _, mine in _by_channel(products).items():
        best = sorted((e for e in mine if not e.spans_zero and e.point > 0), key=lambda e: -e.point)
        for e in best[: 1 if brief else 3]:
            yield _product(analysis, e).build()
    pairs = [e for e in analysis.effects if e.role is not None and e.role.kind == "pair"]
    yield from _promotions(analysis, pairs, every=not brief)
    if cells and not brief:
        yield (
            _Builder(analysis.analysis_id)
            .t(
                "each category figure is net of what promotions move between products of the same "
                "category, and its margin is that revenue at the category's margin rate, net "
                "of the category's refunds."
            )
            .build()
        )
        b = _Builder(analysis.analysis_id)
        b.t("the figures come from ").f("method", analysis.method).t("; every interval is a ")
        level = analysis.statistics.get("interval_level", 0.9)
        b.f("interval_level", f"{round(100 * level)}%").t(" interval.")
        yield b.build()
        yield from assumptions(analysis, every=audience is Audience.DATA_SCIENTIST)
        yield from caveats(analysis)
    yield window(analysis)
    if cells:
        first = min(revenue, key=lambda e: e.spans_zero, default=cells[0])
        yield product_next_step(analysis, first)
