"""Writing a :class:`SimResult` to disk, byte-identically for the same seed.

Files::

    meta.ndjson, google_ads.ndjson, klaviyo.ndjson, tiktok.ndjson
        one export line per line (dirt included; malformed lines written verbatim)
    orders.csv
        the business's own daily sales per state (first-party outcome). Columns:
        org_id, date (YYYY-MM-DD, org time zone), region (USPS state code),
        orders (integer), revenue (decimal, org currency), currency (ISO 4217)
    truth.json, experiments.json, accounts.json, manifest.json
    shopify_orders.ndjson, google_ads_shopping.ndjson, meta_products.ndjson, products.json
        the product layer, only when enabled (see sim.products)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .channels import SOURCES
from .core import SimResult
from .products.io import write_products

ORDERS_COLUMNS = ("org_id", "date", "region", "orders", "revenue", "currency")


def _json(obj: Any, indent: int | None) -> str:
    sep = (",", ":") if indent is None else (",", ": ")
    return json.dumps(obj, indent=indent, separators=sep, ensure_ascii=False, allow_nan=False)


def write(
    result: SimResult, out_dir: str | Path, progress: Callable[[str, float], None] | None = None
) -> dict[str, int]:
    """Write every artefact of ``result`` under ``out_dir``; return bytes written per file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    total = sum(len(result.raw[s]) for s in SOURCES) or 1
    done = 0
    for s in SOURCES:
        path = out / f"{s}.ndjson"
        export = result.raw[s]
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            buf: list[str] = []
            for line in export.lines():
                buf.append(line)
                if len(buf) >= 20_000:
                    fh.write("\n".join(buf) + "\n")
                    done += len(buf)
                    buf = []
                    if progress:
                        progress(f"write {s}", done / total)
            if buf:
                fh.write("\n".join(buf) + "\n")
                done += len(buf)
        sizes[path.name] = path.stat().st_size
    o = result.outcomes
    lines = [",".join(ORDERS_COLUMNS)]
    dates = o["date"].dt.strftime("%Y-%m-%d").tolist()
    for org, d, r, n, rev, cur in zip(
        o["org_id"].astype(str).tolist(),
        dates,
        o["region"].astype(str).tolist(),
        o["orders"].tolist(),
        o["revenue"].tolist(),
        o["currency"].astype(str).tolist(),
        strict=True,
    ):
        lines.append(f"{org},{d},{r},{n},{rev:.2f},{cur}")
    files = {
        "orders.csv": "\n".join(lines) + "\n",
        "truth.json": _json(result.truth, None) + "\n",
        "experiments.json": _json(result.experiments, 2) + "\n",
        "accounts.json": _json(result.accounts, 2) + "\n",
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")
        sizes[name] = (out / name).stat().st_size
    manifest = {
        "generator": result.truth["generator"],
        "scenario": result.scenario,
        "seed": result.seed,
        "start": result.truth["start"],
        "days": result.truth["days"],
        "files": {k: {"bytes": v} for k, v in sorted(sizes.items())},
        "rows": {s: len(result.raw[s]) for s in SOURCES},
        "orders_csv_columns": {
            "org_id": "org id (matches accounts.json)",
            "date": "day in the org's time zone",
            "region": "USPS state code",
            "orders": "orders placed",
            "revenue": "order revenue in the org currency",
            "currency": "ISO 4217",
        },
    }
    if result.products is not None:
        sizes.update(write_products(result.products, out))
        manifest["files"] = {k: {"bytes": v} for k, v in sorted(sizes.items())}
    (out / "manifest.json").write_text(_json(manifest, 2) + "\n", encoding="utf-8")
    sizes["manifest.json"] = (out / "manifest.json").stat().st_size
    return sizes
