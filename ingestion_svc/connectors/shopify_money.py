"""A Shopify order line's money: its discount, the share of a tax-inclusive line that is not
tax, and its units and discount after the order edits that removed some of it."""

from __future__ import annotations

from typing import Any

from ingestion_svc.connectors.shopify_fields import Bad, count, money

__all__ = ["after_edits", "amounts", "discount", "untaxed"]


def discount(li: dict[str, Any], path: str) -> float:
    """A line's discount: the sum of its ``discount_allocations`` when it has any (code and
    automatic discounts may be carried only there, ``total_discount`` "0.00"), else its
    ``total_discount``. Never both: where both are given they are the same discount."""
    allocs = li.get("discount_allocations")
    if allocs is None or allocs == []:
        return money(li.get("total_discount"), f"{path}.total_discount", required=False)
    return amounts(allocs, f"{path}.discount_allocations", "amount")


def amounts(parts: Any, path: str, key: str) -> float:
    """The sum of the ``key`` amounts of the list of objects at ``path``."""
    if type(parts) is not list:
        raise Bad(path, "malformed", f"{path} is not a list")
    total = 0.0
    for k, a in enumerate(parts):
        if type(a) is not dict:
            raise Bad(f"{path}[{k}]", "malformed", f"{path}[{k}] is not an object")
        total += money(a.get(key), f"{path}[{k}].{key}")
    return round(total, 2)


def untaxed(li: dict[str, Any], path: str, sold: float) -> float:
    """The part of a tax-inclusive line's ``sold`` (price x quantity - discount, tax in) that
    is not tax: 1 - the sum of its ``tax_lines`` over ``sold``. Shopify taxes what the line
    sold after its discounts, at one rate for the whole line, so the share applies to each of
    its amounts (an edit's units, a refund without its ``total_tax``)."""
    tax = amounts(li["tax_lines"], f"{path}.tax_lines", "price")
    if tax > sold + 0.005:
        raise Bad(
            f"{path}.tax_lines",
            "invalid_number",
            f"{path}: tax {tax:.2f} exceeds what the line sold, {sold:.2f}, tax included",
        )
    return 1.0 - min(tax, sold) / sold if sold > 0 else 1.0


def after_edits(
    li: dict[str, Any], path: str, qty: int, disc: float, refunded: int
) -> tuple[int, float]:
    """A line's units and discount after the order edits that removed some of it.

    An edit leaves the line in ``line_items`` with ``current_quantity`` lowered (Admin API
    2024-01+; 0 when the edit removed it all). A refund lowers it too, and refunds are
    counted on their own (net sales are before refunds), so the units an edit took are those
    the refunds do not explain; the discount goes with them pro rata."""
    if li.get("current_quantity") is None:
        return qty, disc
    current = count(li["current_quantity"], f"{path}.current_quantity")
    if current > qty:
        raise Bad(f"{path}.current_quantity", "invalid_number", "current_quantity exceeds quantity")
    kept = qty - max(0, qty - current - refunded)
    if kept == qty:
        return qty, disc
    return kept, round(disc * kept / qty, 2) if qty else 0.0
