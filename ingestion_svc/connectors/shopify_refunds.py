"""A Shopify order's refunds per line item: the units and money each gave back, net of the
tax a tax-inclusive shop's refund subtotal holds; a refund of an amount only (no
``refund_line_items``) names no product and is said in a note, not counted."""

from __future__ import annotations

import math
from typing import Any

from ingestion_svc.connectors.shopify_fields import DECIMAL, Bad, count, ident, money
from ingestion_svc.raw_batch import Note, Rejection

__all__ = ["Refunded", "refund_amount", "refunds_by_line"]

# Per line item id: (units, money net of tax, money whose tax the refund line does not give:
# taken out at its line's untaxed share)
Refunded = dict[str, tuple[int, float, float]]


def refunds_by_line(
    i: int, row: dict[str, Any], taxed: bool | None, currency: str, rej: list[Rejection],
    notes: list[Note],
) -> tuple[Refunded, dict[str, list[str]]]:  # fmt: skip
    """Refunded units and money per line item over every refund of order row ``i``, and the
    paths of the refund lines of each (for its rejection). A refund line that cannot be read
    is rejected alone (in ``rej``); a refunds list of the wrong shape rejects the order."""
    refunded: dict[str, tuple[int, float, float]] = {}
    refund_paths: dict[str, list[str]] = {}
    refunds = row.get("refunds") or []
    if type(refunds) is not list:
        raise Bad("refunds", "malformed", "refunds is not a list")
    for k, refund in enumerate(refunds):
        if type(refund) is not dict:
            raise Bad(f"refunds[{k}]", "malformed", f"refunds[{k}] is not an object")
        lines = refund.get("refund_line_items")
        if lines is not None and type(lines) is not list:
            raise Bad(
                f"refunds[{k}].refund_line_items",
                "malformed",
                f"refunds[{k}].refund_line_items is not a list",
            )
        if not lines:
            # an amount only (order_adjustments / transactions): no product to put it on
            amount = refund_amount(refund)
            if amount is not None:
                notes.append(Note(i, f"refunds[{k}]", "refund_without_lines",
                    f"refund of {amount:.2f} {currency} with no refund_line_items: names no "
                    "product, not counted in refunds"))  # fmt: skip
        for j, rl in enumerate(lines or []):
            path = f"refunds[{k}].refund_line_items[{j}]"
            try:
                if type(rl) is not dict:
                    raise Bad(path, "malformed", f"{path} is not an object")
                lid = ident(rl.get("line_item_id"), f"{path}.line_item_id", "LineItem")
                q = count(rl.get("quantity"), f"{path}.quantity")
                amount = money(rl.get("subtotal"), f"{path}.subtotal")
                # a tax-inclusive shop's refund subtotal holds the tax it gave back
                given = bool(taxed) and rl.get("total_tax") is not None
                tax = money(rl["total_tax"], f"{path}.total_tax") if given else 0.0
                if tax > amount + 0.005:
                    raise Bad(
                        f"{path}.total_tax",
                        "invalid_number",
                        f"{path}: total_tax {tax:.2f} exceeds the subtotal {amount:.2f}, tax "
                        "included",
                    )
            except Bad as bad:
                rej.append(Rejection(i, bad.field, bad.reason, bad.message))
                continue
            q0, a0, t0 = refunded.get(lid, (0, 0.0, 0.0))
            if taxed and not given:  # its tax is taken out at its line's share, below
                refunded[lid] = (q0 + q, a0, t0 + amount)
            else:
                refunded[lid] = (q0 + q, a0 + max(amount - tax, 0.0), t0)
            refund_paths.setdefault(lid, []).append(path)
    return refunded, refund_paths


def refund_amount(refund: dict[str, Any]) -> float | None:
    """What a refund without line items gave back, from its successful refund transactions,
    else its order adjustments (negative amounts); None when neither says (read leniently:
    this only words a note, it never rejects)."""
    for key, sign in (("transactions", 1.0), ("order_adjustments", -1.0)):
        parts = refund.get(key)
        if type(parts) is not list:
            continue
        total = 0.0
        for t in parts:
            if type(t) is not dict or (key == "transactions" and (
                t.get("kind") != "refund" or t.get("status") not in (None, "success")
            )):  # fmt: skip
                continue
            v = t.get("amount")
            if (type(v) is str and DECIMAL.fullmatch(v)) or type(v) in (int, float):
                x = sign * float(str(v))
                if math.isfinite(x) and 0 < x <= 1e9:
                    total += x
        if total > 0:
            return round(total, 2)
    return None
