"""Shopify Admin API orders (``GET /admin/api/<version>/orders.json``, one ``orders[]`` element
per row) → one row per order line item, with what has been refunded of it.

The order's day is its ``processed_at`` (the date Shopify's reports and orders list use; an
app importing orders from another platform sets it to the original order's time, while
``created_at`` is the import's), ``created_at`` where it has none. That instant is dated in
the account's time zone (``--timezone``), whatever offset the string carries: REST gives the
shop's offset (the same day), the GraphQL Admin API and ETL tools give UTC (``Z``), whose
evening orders would otherwise fall on the next day. Without an account zone the string's
own offset dates it. When most of a batch's orders written with an offset other than UTC carry
one the account's zone does not have at their time (a wrong ``--timezone``: R34-F7), they are
dated as asked and the ack says so in one ``timezone_mismatch`` note naming a zone that fits.

Quirks handled: money as decimal strings in the shop currency (``price`` per unit,
``total_discount`` per line), ids as JSON numbers, digit strings or the GraphQL Admin API's
global ids (``gid://shopify/Order/123`` is order 123; a row in GraphQL's own shape,
camelCase, is rejected saying so), ``currency`` per order (the shop's: one other than the
account's, when the account names one, is rejected ``unknown_currency`` as the campaign
connectors do; without one each order keeps its own), refunds nested in
``refunds[].refund_line_items[]`` pointing at their line by ``line_item_id`` (a partial
refund returns some units of some lines), order edits that removed units
(``current_quantity`` below ``quantity`` beyond what was refunded: the line keeps only what
is left, 0 when removed whole), no shipping address for digital goods (no geo), discounts
carried only in ``discount_allocations`` (their sum is the line's discount), and a line
whose product was deleted since (``product_id`` null: kept, under the stand-in product
``deleted:<sku or title>``).

Net sales are before tax. In a tax-inclusive shop (``taxes_included: true``, the EU, UK and
AU norm) prices, discounts and refund subtotals hold their tax: a line's ``price``,
``gross`` and ``discount`` are stated net of it pro rata (1 - the sum of its
``tax_lines[].price`` over what it sold), so ``revenue`` is its net sales as in a
tax-exclusive shop, and a refund line's amount is its ``subtotal`` less its ``total_tax``
(at its line's share when it gives none). A taxable line with no ``tax_lines`` there keeps
its tax, said in a ``tax_lines_missing`` note. A tax-exclusive shop's amounts are read as
given (its tax was never in them).

Not sales, left out: a test order, a cancelled order (``cancelled_at`` set or
``financial_status`` voided), one whose payment authorization expired uncaptured
(``financial_status`` expired) and an order of gift cards only are rejected ``not_a_sale``
(the message says which); a gift-card line beside product lines is left out of its order
(a gift card is a liability; its revenue comes when redeemed). A refund with no
``refund_line_items`` (an amount only) is not attributable to a product and is not counted.
Both are said, as :class:`Note`s of the order's row (:attr:`OrderLines.notes`), which the ack
carries: an accepted order stored without a part of it is never silent.
A cancelled order's lines are read and zeroed (:attr:`OrderLines.cancelled`): ingest rejects
it ``not_a_sale`` unless it restates an order taken before, whose lines it then zeroes (a
cancellation arriving after the order was ingested is a restatement to nothing).

Identity: ``natural_key = shopify|<shop>|<order id>|<line item id>``; ``version`` is the
order's ``updated_at`` in µs since the epoch — Shopify's own clock for restatements: a
refund, an edit or a cancellation bumps it, and the export re-sends the whole order.
:class:`OrderBook` keeps the latest version of each order across batches: a higher version
replaces every line of the order (lines an edit removed go with it), an equal one is a
duplicate pull, a lower one is a stale re-send (rejected ``stale_version``).

Bad input costs only itself: an order whose id, date or currency is unusable is rejected
whole — so is one with a time before 1970 (not a Shopify time; as a version it would be
negative, which memory refuses), a refund or a shipping address of the wrong shape; a line
item with a malformed product id, a bad number, sales (price x quantity) above
``record_rules.MAX_MONEY`` or the id of another line of its order (one natural key for two
lines: one would be lost) is rejected alone (``line_items[<j>].<field>``) and its order's
other lines stay; a refund line that points at no line of its order, or refunds more units
than the line sold, is rejected alone. A discount or refund within half a cent over what the
line sold (rounding) is all of it: net sales are never negative. Should reading an order raise
all the same (a check this module lacks), that order is rejected as ``malformed`` and logged.
Ingest is stricter (:mod:`ingestion_svc.product_batch`): its ack counts raw rows, and an order
stored without one of its lines would be stored wrong, so there an order with any rejected
line is rejected whole, once, naming its first problem.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ingestion_svc.connectors.shopify_fields import (
    DECIMAL,
    ID,
    Bad,
    account_zone,
    count,
    ident,
    money,
    stamp,
    text,
    unreadable,
    zone_note,
)
from ingestion_svc.connectors.shopify_money import after_edits as _after_edits
from ingestion_svc.connectors.shopify_money import discount, untaxed
from ingestion_svc.connectors.shopify_refunds import refunds_by_line
from ingestion_svc.currencies import ISO_4217
from ingestion_svc.raw_batch import Account, Note, Rejection
from ingestion_svc.rejection_list import quoted
from mesh.runtime import record_rules

__all__ = ["DELETED_PREFIX", "LINES", "OrderBook", "OrderLines", "normalise"]

_LOGGER = logging.getLogger(__name__)
SOURCE = "shopify"
# The connector's contract: column -> dtype, one row per surviving line item.
LINES: dict[str, str] = {
    "row": "int64",  # raw row (order) index in the batch
    "account_id": "object",  # the shop
    "order_id": "object",
    "line_item_id": "object",
    "product_id": "object",
    "variant_id": "object",
    "sku": "object",
    "category": "object",  # product_type
    "quantity": "int64",
    "price": "float64",  # list price per unit
    "gross": "float64",  # price x quantity
    "discount": "float64",
    "revenue": "float64",  # gross - discount
    "refunded_quantity": "int64",
    "refund_amount": "float64",
    "net_revenue": "float64",  # revenue - refund_amount
    "currency": "object",
    "geo": "object",  # ISO 3166-2 of the shipping address, "" without one
    "local_date": "datetime64[s]",
    "version": "int64",  # updated_at, µs since the epoch
    "natural_key": "object",
}


def _not_a_sale(row: dict[str, Any]) -> Bad | None:
    """Reject a test order (``test: true``: the shop's checkout tried out, never a sale); a
    cancelled one (``cancelled_at`` set, or ``financial_status`` voided or expired) is
    returned, not raised: its lines are read and zeroed, so a cancellation of an order
    ingested before restates it to nothing (see :class:`OrderLines`)."""
    if row.get("test") is True:
        raise Bad("test", "not_a_sale", "test order (test: true): not a sale, left out")
    cancelled = row.get("cancelled_at")
    if cancelled not in (None, ""):
        return Bad(
            "cancelled_at",
            "not_a_sale",
            f"cancelled order (cancelled_at {quoted(cancelled)}): not a sale, left out",
        )
    status = row.get("financial_status")
    # GraphQL's displayFinancialStatus spells Shopify's statuses in capitals (VOIDED, EXPIRED)
    why = _NOT_PAID.get(status.lower()) if type(status) is str else None
    if why is not None:
        return Bad(
            "financial_status",
            "not_a_sale",
            f"{why} (financial_status {status}): not a sale, left out",
        )
    return None


# Shopify's financial statuses of an order whose payment was never taken (Admin API
# OrderDisplayFinancialStatus; the others, pending, authorized, partially_paid, paid,
# partially_refunded and refunded, are sales, a refund counted as such).
_NOT_PAID = {
    "voided": "cancelled order",  # authorized, then cancelled before capture
    "expired": "payment authorization expired, never captured",
}


# order (or a custom item). It keeps its order's other lines and its own revenue, under a
# named stand-in product the analysis lists as "not in the catalogue".
DELETED_PREFIX = "deleted:"


def _deleted_product(li: dict[str, Any]) -> str:
    """The stand-in product id of a line with none: ``deleted:<sku>``, else
    ``deleted:<title>``, else ``deleted:`` (stable across pulls: an order's line keeps them)."""
    name = text(li.get("sku")).strip() or text(li.get("title")).strip()
    return DELETED_PREFIX + name[:100]


def _dated(row: dict[str, Any]) -> str:
    """The field that dates an order: its processed_at, created_at where it has none."""
    return "processed_at" if row.get("processed_at") not in (None, "") else "created_at"


def _order(
    i: int,
    row: dict[str, Any],
    account: Account,
    out: list[dict[str, Any]],
    rej: list[Rejection],
    notes: list[Note],
) -> Bad | None:
    """Append the order's line items to ``out``; its rejections to ``rej``; the parts of it
    left out to ``notes``. A cancelled order's lines are appended with no units and no money,
    and its cancellation returned."""
    graphql = next((k for k in ("lineItems", "__parentId", "createdAt") if k in row), None)
    if graphql is not None and "line_items" not in row:  # GraphQL's gids alone are read
        raise Bad(graphql, "malformed", f"a GraphQL Admin API order ({graphql}): not read; send "
            "the REST orders.json shape (line_items, created_at), gid ids welcome")  # fmt: skip
    order_id = ident(row.get("id"), "id", "Order")
    cancelled = _not_a_sale(row)
    first_line = len(out)
    dated = _dated(row)
    day, created = stamp(row.get(dated), dated, account_zone(account.timezone))
    updated = row.get("updated_at")
    version = stamp(updated, "updated_at")[1] if updated is not None else created
    currency = row.get("currency") or account.currency
    if type(currency) is not str or currency not in ISO_4217:
        raise Bad("currency", "unknown_currency", f"currency {quoted(currency)} is not ISO 4217")
    # an order's currency is its shop's: another than the account's is a wrong --currency or
    # another shop's export (the campaign connectors reject theirs alike, base.Checks.currency)
    if account.currency and currency != account.currency:
        raise Bad(
            "currency",
            "unknown_currency",
            f"currency {currency} differs from the account's {account.currency}",
        )
    items = row.get("line_items")
    if type(items) is not list:
        raise Bad("line_items", "missing_field", "line_items is missing or not a list")
    if not items:
        raise Bad("line_items", "missing_field", "line_items is empty: an order sells a line")
    geo = _geo(row.get("shipping_address"), account)
    taxed = row.get("taxes_included")
    if taxed not in (None, True, False):
        raise Bad("taxes_included", "malformed", "taxes_included is not true or false")
    refunded, refund_paths = refunds_by_line(i, row, taxed, currency, rej, notes)
    account_id = account.account_id or text(row.get("shop_id")) or ""
    first_of: dict[str, int] = {}  # line item id -> the first line carrying it
    gift_cards = 0
    for j, li in enumerate(items):
        path = f"line_items[{j}]"
        try:
            if type(li) is not dict:
                raise Bad(path, "malformed", f"{path} is not an object")
            if li.get("gift_card") is True:
                # selling a gift card is a liability, not a product sale (its revenue comes
                # when it is redeemed, on the lines it pays for)
                gift_cards += 1
                price = li.get("price")
                shown_price = (
                    f" of {price}"
                    if type(price) is str and len(price) <= 20 and DECIMAL.fullmatch(price)
                    else ""
                )
                notes.append(Note(i, path, "gift_card_line",
                    f"gift card{shown_price} left out of the order: a liability, not a product "
                    "sale (its revenue comes when it is redeemed)"))  # fmt: skip
                continue
            lid = ident(li.get("id"), f"{path}.id", "LineItem")
            # the id is the record's natural key: a second line with it would replace the
            # first in memory, and one of them would be lost without a word
            if first_of.setdefault(lid, j) != j:
                raise Bad(
                    f"{path}.id",
                    "malformed",
                    f"line item id {lid} is also line_items[{first_of[lid]}]'s: "
                    "an order's lines have distinct ids",
                )
            pid = (
                _deleted_product(li)
                if li.get("product_id") is None
                else ident(li["product_id"], f"{path}.product_id", "Product")
            )
            vid = (
                ""
                if li.get("variant_id") is None
                else ident(li["variant_id"], f"{path}.variant_id", "ProductVariant")
            )
            qty = count(li.get("quantity"), f"{path}.quantity")
            price = money(li.get("price"), f"{path}.price")
            disc = discount(li, path)
            sold = round(price * qty - disc, 2)  # before edits, as its tax_lines are
            qty, disc = _after_edits(li, path, qty, disc, refunded.get(lid, (0, 0.0, 0.0))[0])
            gross = round(price * qty, 2)
            if gross > record_rules.MAX_MONEY:
                raise Bad(
                    f"{path}.price",
                    "invalid_number",
                    f"{path}: price x quantity = {gross:g} is out of range: a line's sales "
                    f"are at most {record_rules.MAX_MONEY:g}",
                )
            if disc > gross + 0.005:
                raise Bad(
                    f"{path}.total_discount", "invalid_number", "discount exceeds the line's price"
                )
            # within half a cent of the price (rounding) the discount is the price: net sales
            # are never negative, and the refund check below compares with what is left
            disc = min(disc, gross)
            share = 1.0
            if taxed and li.get("tax_lines") is not None:
                share = untaxed(li, path, sold)
                price, gross, disc = price * share, round(gross * share, 2), round(disc * share, 2)
            net = round(gross - disc, 2)
            rq, ra, rt = refunded.get(lid, (0, 0.0, 0.0))
            ra += rt * share
            if rq > qty or ra > net + 0.005:
                rej.append(Rejection(i, refund_paths.get(lid, [f"{path}.id"])[-1],
                    "invalid_number", f"refunds of line {lid} exceed what it sold"))  # fmt: skip
                rq, ra = 0, 0.0
            ra = min(ra, net)
        except Bad as bad:
            rej.append(Rejection(i, bad.field, bad.reason, bad.message))
            continue
        if taxed and li.get("tax_lines") is None and li.get("taxable") is not False:
            notes.append(Note(i, f"{path}.tax_lines", "tax_lines_missing",
                "taxes_included, but the line has no tax_lines: its sales are stored with "
                "their tax in"))  # fmt: skip
        out.append(
            {
                "row": i,
                "account_id": account_id,
                "order_id": order_id,
                "line_item_id": lid,
                "product_id": pid,
                "variant_id": vid,
                "sku": text(li.get("sku")),
                "category": text(li.get("product_type")),
                "quantity": qty,
                "price": price,
                "gross": gross,
                "discount": disc,
                "revenue": net,
                "refunded_quantity": rq,
                "refund_amount": round(ra, 2),
                "net_revenue": max(round(net - ra, 2), 0.0),
                "currency": currency,
                "geo": geo,
                "local_date": day,
                "version": version,
                "natural_key": f"{SOURCE}|{account_id}|{order_id}|{lid}",
            }
        )
    if gift_cards == len(items):
        raise Bad(
            "line_items",
            "not_a_sale",
            f"an order of gift cards only ({gift_cards} line{'s' if gift_cards > 1 else ''}): "
            "not a product sale, left out (a gift card's revenue comes when it is redeemed)",
        )
    # A refund of a line the order does not have (whatever became of that line's own checks).
    ids = {ID.sub(r"\2", text(li.get("id"))) for li in items if type(li) is dict}
    for lid, paths in refund_paths.items():
        if lid not in ids:
            rej.append(Rejection(i, f"{paths[0]}.line_item_id", "missing_field",
                f"refund of line {lid}, which the order does not have"))  # fmt: skip
    if cancelled is not None:
        for line in out[first_line:]:
            line.update(_ZERO)
    return cancelled


# A cancelled order's line: what an edit that removed it leaves (memory sums no zero line).
_ZERO: dict[str, Any] = {
    "quantity": 0, "gross": 0.0, "discount": 0.0, "revenue": 0.0, "refunded_quantity": 0,
    "refund_amount": 0.0, "net_revenue": 0.0,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrderLines:
    """A batch's surviving line items (:data:`LINES`) and its rejections; ``cancelled``: per
    row of a cancelled order (its lines in ``frame``, zeroed), the ``not_a_sale`` rejection it
    gets unless it restates an order taken before (then its zero lines replace the order's)."""

    frame: pd.DataFrame
    rejections: list[Rejection]
    cancelled: dict[int, Rejection] = field(default_factory=dict)
    # parts of orders left out (amount-only refunds, gift-card lines); only of orders not
    # rejected here (an order rejected later has its notes dropped by whoever rejects it)
    notes: list[Note] = field(default_factory=list)


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    if not records:
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in LINES.items()})
    frame = pd.DataFrame.from_records(records, columns=list(LINES))
    return frame.astype(LINES)


def normalise(rows: Sequence[dict[str, Any] | None], account: Account) -> OrderLines:
    """Parsed order rows (None where a line was malformed, already rejected) → line items."""
    out: list[dict[str, Any]] = []
    rej: list[Rejection] = []
    notes: list[Note] = []
    cancelled: dict[int, Rejection] = {}
    times: list[tuple[int, str, str]] = []  # each read order's time as written
    for i, row in enumerate(rows):
        if row is None:
            continue
        lines, said = len(out), len(notes)
        try:
            bad_ = _order(i, row, account, out, rej, notes)
            times.append((i, _dated(row), row[_dated(row)]))
            if bad_ is not None:
                cancelled[i] = Rejection(i, bad_.field, bad_.reason, bad_.message)
        except Bad as bad:
            del out[lines:], notes[said:]
            rej.append(Rejection(i, bad.field, bad.reason, bad.message))
        except (
            Exception
        ) as exc:  # a check this module lacks: the order's rejection, not the batch's
            del out[lines:], notes[said:]
            _LOGGER.exception("shopify order at row %d could not be read", i)
            rej.append(unreadable(i, "order", exc))
    said_zone = zone_note(times, account)
    if said_zone is not None:
        notes.append(said_zone)
    return OrderLines(_frame(out), rej, cancelled, notes)


def _geo(ship: Any, account: Account) -> str:
    """ISO 3166-2 of the shipping address (``US-NY``), "" without one (digital goods)."""
    if type(ship) is not dict or not ship.get("province_code"):
        return ""
    for name in ("country_code", "province_code"):
        v = ship.get(name)
        if v is not None and (type(v) is not str or len(v) > 8):
            raise Bad(
                f"shipping_address.{name}", "malformed", f"shipping_address.{name} is not a code"
            )
    country = ship.get("country_code") or account.country
    code = ship["province_code"]
    return f"{country}-{code}" if country else code


@dataclass(slots=True)
class OrderBook:
    """The latest version of every order seen, across batches (see the module docstring)."""

    versions: dict[str, int] = field(default_factory=dict)
    lines: dict[str, pd.DataFrame] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: {"new": 0, "restated": 0, "duplicate": 0, "stale": 0}
    )

    def apply(self, batch: OrderLines) -> list[Rejection]:
        """Take a batch's lines; returns the stale re-sends it rejects."""
        stale: list[Rejection] = []
        frame = batch.frame
        if frame.empty:
            return stale
        # One raw row is one version of one order; rows are taken in batch order.
        for _, part in frame.groupby("row", sort=True):
            k = f"{part['account_id'].iloc[0]}|{part['order_id'].iloc[0]}"
            version = int(part["version"].iloc[0])
            known = self.versions.get(k)
            if known is None:
                self.counts["new"] += 1
            elif version == known:
                self.counts["duplicate"] += 1
                continue
            elif version < known:
                self.counts["stale"] += 1
                stale.append(
                    Rejection(
                        int(part["row"].iloc[0]),
                        "updated_at",
                        "stale_version",
                        f"order {part['order_id'].iloc[0]} version is older than one already taken",
                    )
                )
                continue
            else:
                self.counts["restated"] += 1
            self.versions[k] = int(version)
            self.lines[k] = part
        return stale

    def frame(self) -> pd.DataFrame:
        """Every line item of the latest version of every order."""
        if not self.lines:
            return _frame([])
        return pd.concat(self.lines.values(), ignore_index=True)

    def product_totals(self) -> pd.DataFrame:
        """Per currency and product: units, gross, discounts, revenue, refunds, net revenue."""
        f = self.frame()
        return f.groupby(["currency", "product_id"]).agg(
            units=("quantity", "sum"),
            gross=("gross", "sum"),
            discounts=("discount", "sum"),
            revenue=("revenue", "sum"),
            refunded_units=("refunded_quantity", "sum"),
            refunds=("refund_amount", "sum"),
            net_revenue=("net_revenue", "sum"),
        )
