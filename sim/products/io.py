"""Writing the product layer: the Shopify orders export, the platforms' product reports and
the catalogue, one JSON document per line (``products.json`` is one document)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .world import ProductWorld

FILES = {
    "shopify_orders.ndjson": "orders",
    "google_ads_shopping.ndjson": "google_ads",
    "meta_products.ndjson": "meta",
}


def _dumps(row: dict[str, Any] | str) -> str:
    if isinstance(row, str):
        return row
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)


def _write_lines(path: Path, rows: Iterable[dict[str, Any] | str]) -> int:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        buf: list[str] = []
        for row in rows:
            buf.append(_dumps(row))
            if len(buf) >= 10_000:
                fh.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            fh.write("\n".join(buf) + "\n")
    return path.stat().st_size


def write_products(pw: ProductWorld, out: Path) -> dict[str, int]:
    """Write the product files under ``out``; return bytes written per file."""
    sizes = {}
    for name, what in FILES.items():
        rows = pw.orders if what == "orders" else pw.report_rows(what)
        sizes[name] = _write_lines(out / name, rows)
    path = out / "products.json"
    path.write_text(
        json.dumps(pw.catalogue_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    sizes["products.json"] = path.stat().st_size
    return sizes
