"""Writing a :class:`SimResult` to disk, byte-identically for the same seed.

Files::

    meta.ndjson, google_ads.ndjson, klaviyo.ndjson, tiktok.ndjson
        one export line per line (dirt included; malformed lines written verbatim)
    orders.csv
        the business's own daily sales per state (first-party outcome). Columns:
        org_id, date (YYYY-MM-DD, org time zone), region (USPS state code),
        orders (integer), revenue (decimal, org currency), currency (ISO 4217)
    external_factors.csv
        each org's own view of the world outside its ads, as it would register it: a macro
        index it buys, a competitor activity index, its promotions calendar and its gift
        season; and the exchange rate (kind fx_rate, fx_<from>_<to>) of every account billing in
        another currency than the org's (the TikTok account bills in EUR). Long: org_id, date,
        name, kind (macro, competitor, promotion, season, fx_rate), value, unit (``liftos
        factors register`` reads it)
    truth.json, experiments.json, accounts.json, manifest.json
    shopify_orders.ndjson, google_ads_shopping.ndjson, meta_products.ndjson, products.json
        the product layer, only when enabled (see sim.products)

Every file's modification time is the simulated pull, the morning after the last day (also
``manifest.json``'s ``pulled_at``): ``liftos ingest`` takes an export's pull time from its
file, so rows dated after the pull are refused as they would be in a real export.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .channels import SOURCES
from .core import SimResult
from .products.io import write_products

ORDERS_COLUMNS = ("org_id", "date", "region", "orders", "revenue", "currency")
# (name the org registers it under, kind, the demand series it reads, unit)
EXTERNAL_FACTORS = (
    ("consumer_confidence", "macro", "macro_index", "index"),
    ("competitor_activity", "competitor", "competitor_intensity", "index"),
    ("promotions", "promotion", "promo", "flag"),
    ("gift_season", "season", "gift_season", "flag"),
)


def external_factors_csv(truth: dict[str, Any], accounts: Sequence[dict[str, Any]] = ()) -> str:
    """Every org's external series, long (values as Python writes floats: they round-trip),
    and the exchange rate of each account billing in another currency than the org's."""
    lines = ["org_id,date,name,kind,value,unit"]
    for org, o in truth["orgs"].items():
        series = o.get("demand", {}).get("params", {}).get("series", {})
        for name, kind, key, unit in EXTERNAL_FACTORS:
            if key in series:
                for day, v in zip(truth["dates"], series[key], strict=True):
                    lines.append(f"{org},{day},{name},{kind},{float(v)!r},{unit}")
        home = str(o.get("currency", ""))
        rates = {
            str(a["currency"]): float(a["fx_to_org_currency"])
            for a in accounts
            if a.get("org_id") == org and home and a.get("currency") != home
        }
        for foreign, rate in sorted(rates.items()):
            name = f"fx_{foreign.lower()}_{home.lower()}"
            for day in truth["dates"]:
                lines.append(f"{org},{day},{name},fx_rate,{rate!r},{home} per {foreign}")
    return "\n".join(lines) + "\n"


def pulled_at(truth: dict[str, Any]) -> dt.datetime:
    """When the simulated exports were pulled: 09:00 UTC the day after the last day."""
    last = dt.date.fromisoformat(truth["start"]) + dt.timedelta(days=truth["days"])
    return dt.datetime.combine(last, dt.time(9), dt.UTC)


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
        "external_factors.csv": external_factors_csv(result.truth, result.accounts),
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
        "pulled_at": pulled_at(result.truth).isoformat().replace("+00:00", "Z"),
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
    stamp = pulled_at(result.truth).timestamp()
    for name in sizes:
        os.utime(out / name, (stamp, stamp))
    return sizes
