"""The product analysis AnalyzeProducts runs: memory's product sums (AggregateProducts) →
the product x day panel → :func:`causal_svc.products.estimate_products` → one report with
the observed totals beside the estimates. Pure: DataFrames in, dataclasses out.

The panel is built as :func:`ingestion_svc.connectors.product_panel.product_panel` builds it
from the connectors' frames (the test suite checks that one against the simulator's), here
from sums memory computed where the records are: revenue is net sales (after discounts,
before refunds) on the order's shop-local day, the refunds beside it dated on the order's day
(the estimates take them off the margin: net of refunds); spend per channel is the platforms'
product reports summed over campaigns; every catalogue product gets every day of the window.

Amounts are in one currency, the one with the most net sales: an order or report row in
another is left out and said so (the mesh converts no currency). A product the catalogue
has no unit cost for is costed at its category's cost-to-price ratio (said so), since the
margin rate needs a cost for every unit sold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from causal_svc.attribution.panel import FIRST_PARTY_SOURCE
from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.products import ProductEffects, estimate_products
from causal_svc.products.estimate import MIN_DAYS

__all__ = [
    "ASSUMPTIONS",
    "FIRST_PARTY_RATIO",
    "MODEL_VERSION",
    "NO_CATEGORY",
    "STAGE_FRACTIONS",
    "ProductPanel",
    "ProductReport",
    "analyse",
    "build_panel",
    "first_party_gap",
]

MODEL_VERSION = "liftos-products/1"
STAGE_FRACTIONS = {"retrieve": 0.1, "panel": 0.2, "estimation": 0.9, "products": 1.0}
ASSUMPTIONS = (
    "no unmeasured driver moves a product's ad spend and its sales together beyond the "
    "baseline controls (trend, season, weekday, holidays and retail events, the merchant's "
    "discounts, launches)",
    "spend acts through a geometric adstock and a Hill saturation per channel and category",
    "a promoted product's lift spills only to products of its own category",
    "the platforms' product reports carry all spend aimed at each product",
    "the sales the spend caused are refunded at their category's rate over the window, and a "
    "refund returns the goods to stock (the margin net of refunds)",
)
_EPOCH = dt.date(1970, 1, 1)
# The category of a product with no product_type in the catalogue or its order lines (optional
# in Shopify): a name a reader sees in every table and action, never an empty string.
NO_CATEGORY = "(no product type)"
# Product net sales (order lines after discounts, before refunds, without tax or shipping) and
# the org's first-party revenue (an orders export's, which counts tax and shipping as a rule)
# differ by those; a ratio beyond this, either way, is more than they explain: one of the two is
# partial (one store or sales channel, a truncated pull) or of another business (R25-F6).
FIRST_PARTY_RATIO = 1.5


@dataclass(frozen=True, slots=True)
class ProductPanel:
    """The product x day panel (``estimate_products``' input) and what it was built from."""

    frame: pd.DataFrame
    channels: tuple[str, ...]
    currency: str
    start: dt.date
    end: dt.date
    categories: pd.DataFrame  # category, product_count, revenue, margin_rate, refunds
    products: pd.DataFrame  # product_id, category, title, units, revenue, spend
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductReport:
    panel: ProductPanel
    effects: ProductEffects
    assumptions: tuple[str, ...] = ASSUMPTIONS
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _day(d: dt.date | None) -> int | None:
    return None if d is None else (d - _EPOCH).days


def _date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(day))


def build_panel(
    sales: pd.DataFrame,
    spend: pd.DataFrame,
    catalogue: pd.DataFrame,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    channels: tuple[str, ...] = (),
) -> ProductPanel:
    """The panel from AggregateProducts' three tables (memory_svc.product_table's columns).

    Raises
    ------
    InsufficientData
        No order lines, no catalogue or no product spend in the window; fewer than 90 days.
    InvalidSpec
        A requested channel has no product spend (field ``channels[i]``).
    """
    warnings: list[str] = []
    lo, hi = _day(start), _day(end)
    if lo is not None:
        sales, spend = sales[sales["date"] >= lo], spend[spend["date"] >= lo]
    if hi is not None:
        sales, spend = sales[sales["date"] <= hi], spend[spend["date"] <= hi]
    if sales.empty:
        raise InsufficientData("no order lines in the window", subject="orders")
    if catalogue.empty:
        raise InsufficientData("no catalogue (ingest the products export)", subject="catalogue")
    by_currency = sales.groupby("currency")["net_sales"].sum().sort_values(ascending=False)
    currency = str(by_currency.index[0])
    if len(by_currency) > 1:
        others = ", ".join(f"{c} {v:,.0f}" for c, v in by_currency.iloc[1:].items())
        warnings.append(f"orders in other currencies than {currency} left out ({others})")
        sales = sales[sales["currency"] == currency]
    off = spend["currency"] != currency
    if off.any():
        warnings.append(
            f"{int(off.sum())} product report rows not in {currency} left out "
            f"({spend.loc[off, 'spend'].sum():,.0f} of spend)"
        )
        spend = spend[~off]
    # The panel spans the order lines' days inside the window: days before the first order
    # line or after the last are not days of zero sales, and a window of centuries would
    # otherwise fit tens of thousands of empty days.
    first, last = int(sales["date"].min()), int(sales["date"].max())
    if (lo is not None and lo < first) or (hi is not None and hi > last):
        warnings.append(
            f"the window is cut to the days with order lines, {_date(first)} to {_date(last)}"
        )
    # Report spend on other days meets no sales: said, and left out before the channels are
    # chosen, so a channel with spend only there is not modelled as one that never spent.
    warnings.extend(_spend_outside(spend, first, last, currency))
    spend = spend[(spend["date"] >= first) & (spend["date"] <= last)]
    present = tuple(sorted(spend.loc[spend["spend"] > 0, "channel"].unique().tolist()))
    for i, ch in enumerate(channels):
        if ch not in present:
            raise InvalidSpec(
                f"channel {ch!r} has no product spend in the window; channels with spend: "
                + (", ".join(present) or "none"),
                field=f"channels[{i}]",
            )
    chosen = tuple(channels) or present
    if not chosen:
        raise InsufficientData("no product spend in the window", subject="spend")
    omitted = _omitted_channels(spend, chosen, currency)
    if omitted:
        warnings.append(omitted)
    n_days = last - first + 1
    if n_days < MIN_DAYS:
        raise InsufficientData(
            f"a product analysis needs at least {MIN_DAYS} days; the window has {n_days}",
            subject="date_range",
        )
    cat = catalogue.set_index("product_id")
    sold_cat = sales.groupby("product_id")["category"].first()
    products = sorted(set(cat.index) | set(sold_cat.index))
    named = sold_cat.where(sold_cat.ne("") & sold_cat.notna())
    category = cat["category"].reindex(products).where(lambda s: s.ne("") & s.notna())
    category = category.fillna(named.reindex(products)).fillna(NO_CATEGORY)
    unknown = sorted(set(sold_cat.index) - set(cat.index))
    if unknown:
        warnings.append(_unknown_sold(sales, unknown, currency))
    unmatched = _unmatched_spend(spend, chosen, set(products), currency)
    if unmatched:
        warnings.append(unmatched)
    untyped = _untyped(category, cat, sales, currency)
    if untyped:
        warnings.append(untyped)
    cost = _unit_costs(cat, sales, category, products, warnings)
    days = np.arange(first, last + 1)
    grid = pd.MultiIndex.from_product([products, days], names=["product_id", "date"])
    sold = sales.groupby(["product_id", "date"])[["units", "gross", "discounts", "net_sales",
                                                   "refunds"]].sum()  # fmt: skip
    frame = sold.reindex(grid, fill_value=0).reset_index()
    frame = frame.rename(columns={"net_sales": "revenue"})
    by_channel = spend.pivot_table(
        index=["product_id", "date"], columns="channel", values="spend", aggfunc="sum"
    )
    for ch in chosen:
        col = by_channel[ch] if ch in by_channel.columns else pd.Series(dtype=float)
        frame[f"spend_{ch}"] = col.reindex(grid).fillna(0.0).to_numpy()
    frame["category"] = category.reindex(frame["product_id"]).to_numpy()
    frame["cost"] = cost.reindex(frame["product_id"]).to_numpy()
    frame["date"] = pd.to_datetime(frame["date"], unit="D")
    spend_cols = [f"spend_{c}" for c in chosen]
    per_product = frame.groupby("product_id").agg(
        category=("category", "first"), units=("units", "sum"), revenue=("revenue", "sum")
    )
    per_product["spend"] = frame.groupby("product_id")[spend_cols].sum().sum(axis=1)
    per_product["title"] = cat["title"].reindex(per_product.index).fillna("")
    cogs = frame["cost"] * frame["units"]
    per_cat = frame.assign(cogs=cogs).groupby("category").agg(
        revenue=("revenue", "sum"), refunds=("refunds", "sum"), cogs=("cogs", "sum"),
        product_count=("product_id", "nunique"),
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cat["margin_rate"] = np.where(
            per_cat["revenue"] > 0, 1.0 - per_cat["cogs"] / per_cat["revenue"], np.nan
        )
    return ProductPanel(
        frame=frame,
        channels=chosen,
        currency=currency,
        start=_date(first),
        end=_date(last),
        categories=per_cat.drop(columns="cogs").reset_index(),
        products=per_product.reset_index(),
        warnings=tuple(warnings),
    )


_EXAMPLES = 3


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _omitted_channels(spend: pd.DataFrame, chosen: tuple[str, ...], currency: str) -> str:
    """The warning for channels with product spend that a request naming channels leaves out
    of the model (worded as the attribution's omitted_channels check): their spend is not in
    any category's equation, so the sales it caused are credited to the channels modelled."""
    by = spend[~spend["channel"].isin(chosen)].groupby("channel")["spend"].sum()
    by = by[by > 0].sort_values(ascending=False, kind="stable")
    if by.empty:
        return ""
    left, total = float(by.sum()), float(spend["spend"].clip(lower=0).sum())
    named = ", ".join(f"{c} (spend {v:,.0f} {currency})" for c, v in by.items())
    return (
        f"channels with product spend in the window were left out of the model, "
        f"{left / total:.0%} of the window's product spend: {named}; their effect can be "
        "credited to the channels modelled (leave channels empty to model every channel)"
    )


def _spend_outside(spend: pd.DataFrame, first: int, last: int, currency: str) -> list[str]:
    """A warning for product report spend dated before the first or after the last order line's
    day, which the panel (the order lines' days) leaves out: the ad reports and the orders
    export cover different days, so the spend there meets no sales."""
    out = []
    for side, rows, edge, question in (
        ("before", spend[spend["date"] < first], f"first day {_date(first)}",
         "does the orders export start later than the ad reports?"),
        ("after", spend[spend["date"] > last], f"last day {_date(last)}",
         "is the orders export older than the ad reports?"),
    ):  # fmt: skip
        rows = rows[rows["spend"] != 0]
        if rows.empty:
            continue
        by = rows.groupby("channel")["spend"].sum().sort_values(ascending=False, kind="stable")
        named = ", ".join(f"{c} {v:,.0f}" for c, v in by.items())
        lo, hi = _date(int(rows["date"].min())), _date(int(rows["date"].max()))
        days = f"on {lo}" if lo == hi else f"from {lo} to {hi}"
        out.append(
            f"the product reports' spend {days}, {side} the orders' {edge}, is left out: "
            f"{float(by.sum()):,.0f} {currency} ({named}); {question}"
        )
    return out


def _unknown_sold(sales: pd.DataFrame, unknown: list[str], currency: str) -> str:
    """The warning naming the products sold that the catalogue lacks, with their revenue."""
    revenue = sales[sales["product_id"].isin(unknown)].groupby("product_id")["net_sales"].sum()
    revenue = revenue.sort_values(ascending=False, kind="stable")
    named = ", ".join(f"{pid} ({v:,.2f} {currency})" for pid, v in revenue.head(_EXAMPLES).items())
    more = f" and {len(unknown) - _EXAMPLES} more" if len(unknown) > _EXAMPLES else ""
    verb = "is" if len(unknown) == 1 else "are"
    return (
        f"{_plural(len(unknown), 'product', 'products')} sold {verb} not in the catalogue "
        f"({revenue.sum():,.2f} {currency} of net sales): {named}{more}"
    )


def _untyped(category: pd.Series, cat: pd.DataFrame, sales: pd.DataFrame, currency: str) -> str:
    """The warning naming the products with no product_type, which the analysis models as one
    category (NO_CATEGORY), with their share of net sales: products of unrelated kinds become
    siblings there (one response curve, halo and cannibalisation pairs between them)."""
    ids = category.index[category.eq(NO_CATEGORY)].tolist()
    if not ids:
        return ""
    by_product = sales.groupby("product_id")["net_sales"].sum()
    revenue = by_product.reindex(ids).fillna(0.0).sort_values(ascending=False, kind="stable")
    total = float(by_product.sum())
    share = f", {revenue.sum() / total:.1%} of the total" if total > 0 else ""
    titles = cat["title"].reindex(ids).fillna("") if "title" in cat.columns else None
    named = ", ".join(
        f"{titles[pid]} ({pid})" if titles is not None and titles[pid] else str(pid)
        for pid in revenue.index[:_EXAMPLES]
    )
    more = f" and {len(ids) - _EXAMPLES} more" if len(ids) > _EXAMPLES else ""
    return (
        f"{_plural(len(ids), 'product has', 'products have')} no product_type in the catalogue "
        f"or the orders ({revenue.sum():,.0f} {currency} of net sales{share}): {named}{more}; "
        f"they are modelled as one category, {NO_CATEGORY!r}, siblings of each other whatever "
        "they are: set product_type in Shopify and ingest the products export again"
    )


def _unmatched_spend(
    spend: pd.DataFrame, chosen: tuple[str, ...], products: set[str], currency: str
) -> str:
    """The warning for report spend on item ids that are no product of the catalogue or the
    orders (a bare variant id, a SKU): it cannot be put on a product and is left out of the
    panel, so it is said, with its amount, share and the ids that carry most of it."""
    spend = spend[spend["channel"].isin(chosen)]
    lost = spend[~spend["product_id"].isin(products)]
    amount = float(lost["spend"].sum())
    if amount <= 0:
        return ""
    total = float(spend["spend"].sum())
    by_id = lost.groupby("product_id")["spend"].sum().sort_values(ascending=False, kind="stable")
    by_id = by_id[by_id > 0]
    named = ", ".join(f"{pid} ({v:,.2f})" for pid, v in by_id.head(_EXAMPLES).items())
    more = f" and {len(by_id) - _EXAMPLES} more" if len(by_id) > _EXAMPLES else ""
    return (
        f"{amount:,.2f} {currency} of product report spend ({amount / total:.1%} of it) names "
        f"{_plural(len(by_id), 'item id', 'item ids')} that no catalogue or sold product has, "
        f"left out: {named}{more}; a variant id or a SKU is matched to its product only when "
        "the catalogue was ingested before the report"
    )


def _unit_costs(
    cat: pd.DataFrame,
    sales: pd.DataFrame,
    category: pd.Series,
    products: list[str],
    warnings: list[str],
) -> pd.Series:
    """Each product's unit cost: the catalogue's, else its category's cost-to-price ratio
    times its average net unit price (said in ``warnings``), else 0 (said too)."""
    cost = cat["unit_cost"].reindex(products).astype(float)
    price = cat["list_price"].reindex(products).astype(float)
    units = sales.groupby("product_id")["units"].sum().reindex(products)
    sold_price = (sales.groupby("product_id")["net_sales"].sum().reindex(products) / units).where(
        units > 0
    )
    price = price.where(price > 0, sold_price)
    missing = cost.isna()
    if not missing.any():
        return cost
    ratio = (cost / price).groupby(category).median()
    fill = category.map(ratio) * price
    cost = cost.fillna(fill)
    still = cost.isna()
    cost = cost.fillna(0.0)
    n_ratio, n_zero = int(missing.sum() - still.sum()), int(still.sum())
    if n_ratio:
        warnings.append(
            f"{n_ratio} products have no unit cost: costed at their category's cost-to-price ratio"
        )
    if n_zero:
        warnings.append(
            f"{n_zero} products have no unit cost and no costed sibling: their margin assumes "
            "zero cost"
        )
    return cost


def analyse(
    panel: ProductPanel, *, alpha: float, claim_alpha: float, country: str
) -> ProductReport:
    """The estimates on the panel (run in a compute worker)."""
    effects = estimate_products(
        panel.frame,
        channels=panel.channels,
        alpha=alpha,
        claim_alpha=claim_alpha,
        country=country,
    )
    return ProductReport(panel, effects, warnings=(*panel.warnings, *effects.warnings))


def first_party_gap(panel: ProductPanel, currencies: pd.DataFrame) -> str:
    """The warning when the panel's net sales and the org's first-party revenue over the same
    days differ by more than ``FIRST_PARTY_RATIO`` either way, saying which is which; "" when
    they agree or the org has no first-party revenue in the panel's currency.

    ``currencies``: memory's money per (source, channel, currency) over the panel's days
    (AggregateRecords' ``currencies`` table: source, channel, currency, spend, revenue).
    """
    if currencies.empty or not {"source", "currency", "revenue"} <= set(currencies.columns):
        return ""
    own = currencies[
        (currencies["source"] == FIRST_PARTY_SOURCE) & (currencies["currency"] == panel.currency)
    ]
    first_party = float(own["revenue"].sum())
    net = float(panel.categories["revenue"].sum())
    if not (first_party > 0 and net > 0):
        return ""
    ratio = max(net, first_party) / min(net, first_party)
    if ratio < FIRST_PARTY_RATIO:
        return ""
    side = "below" if first_party > net else "above"
    cur = panel.currency
    return (
        f"the products' net sales, {net:,.0f} {cur} (Shopify order lines after discounts, before "
        f"refunds, without tax or shipping), are {ratio:.1f}x {side} the org's first-party "
        f"revenue over the same days, {first_party:,.0f} {cur} (the outcome the attribution "
        f"models, ingested with the {FIRST_PARTY_SOURCE} source): more than tax, shipping and "
        "refunds explain; is one of them partial (one store or sales channel, a truncated "
        "pull) or another business's? The product shares and returns are of the order lines"
    )
