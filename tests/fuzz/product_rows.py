"""Fuzzing corpora for the four product sources (Shopify orders and catalogue, Google Ads
shopping_performance_view, Meta product rows) from a simulated ``products`` world, the
batches that mix their mutants (``sim.raw.mutate``) with clean rows, and the check that the
clean rows landed: memory's AggregateProducts for an org that got the mixed batches holds
every cell it holds for an org that got the clean rows alone.

tests/ingestion/fuzzing.py covers the campaign sources; its ``broken_promises`` (every row
accepted or rejected once, with a field, a reason and a message; no clean row rejected) is
the contract here too. Used by ``tests/fuzz/test_product_rows.py`` and ``bench/fuzz_rows.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import memory_pb2 as memory_pb

import sim
from mesh.runtime.tables import table_to_frame
from sim.raw.mutate import Batch, Mutant, mutate, split

SOURCES = {
    "shopify_orders": common_pb.DATA_SOURCE_SHOPIFY_ORDERS,
    "shopify_products": common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS,
    "google_ads_shopping": common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
    "meta_products": common_pb.DATA_SOURCE_META_PRODUCTS,
}
# Pulled after the world's last day (the products world ends in October 2023).
PULLED = dt.datetime(2024, 1, 2, 9, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class ProductCorpus:
    source: str
    account: ingestion_pb.AccountInfo
    clean: list[dict[str, Any]]
    mutable: list[dict[str, Any]]  # rows of other orders/products/campaigns than the clean


def world(seed: int = 3, days: int = 100) -> sim.SimResult:
    """A small products world: 3 geos, 3 categories, ~20 orders a day."""
    return sim.simulate(
        "products", seed=seed, days=days, n_geos=3, products=3, product_orders_per_day=20.0
    )


def _group(source: str, row: dict[str, Any]) -> str:
    """What a row's natural key hangs on: mutants come from other groups than the clean
    rows, so no accepted mutant can restate a clean row."""
    if source in ("shopify_orders", "shopify_products"):
        return str(row.get("id"))
    if source == "google_ads_shopping":
        return str(row["campaign"]["id"])
    return str(row["campaign_id"])


def corpora(w: sim.SimResult) -> dict[str, ProductCorpus]:
    pw = w.products
    assert pw is not None
    store = pw.stores[0]
    account = ingestion_pb.AccountInfo(
        timezone=store["timezone"], currency_code=store["currency"], country_code="US"
    )
    rows: dict[str, list[Any]] = {
        "shopify_orders": list(pw.orders),
        "shopify_products": list(pw.catalogue_json()["products"]),
        "google_ads_shopping": list(pw.report_rows("google_ads")),
        "meta_products": list(pw.report_rows("meta")),
    }
    out = {}
    for source, all_rows in rows.items():
        dicts = [r for r in all_rows if isinstance(r, dict)]  # the world's dirty lines aside
        keep, change = split(_group(source, r) for r in dicts)
        out[source] = ProductCorpus(
            source, account, [dicts[i] for i in keep], [dicts[i] for i in change]
        )
    return out


def _set(row: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        row = row[key]
    row[path[-1]] = value


# Product-specific edges the generic mutator seldom draws, each legal on its own field:
# timestamps before 1970 (a negative version), price x quantity past the money cap, a
# discount that rounds past its price, two line items or variants sharing an id.
_EDGES: dict[str, list[tuple[str, list[tuple[tuple[Any, ...], Any]]]]] = {
    "shopify_orders": [
        ("created_1969", [(("created_at",), "1969-12-31T23:00:00-05:00"),
                          (("processed_at",), "1969-12-31T23:00:00-05:00"),
                          (("updated_at",), "1969-12-31T23:00:00-05:00")]),
        ("updated_1900", [(("updated_at",), "1900-01-01T00:00:00Z")]),
        ("revenue_1e15", [(("line_items", 0, "price"), "999999999.00"),
                          (("line_items", 0, "quantity"), 1000000)]),
        ("discount_rounding", [(("line_items", 0, "price"), "10.00"),
                               (("line_items", 0, "total_discount"), "10.005")]),
        ("line_id_twice", [(("line_items",), "DUPLICATE_FIRST")]),
    ],
    "shopify_products": [
        ("updated_1950", [(("updated_at",), "1950-06-01T00:00:00Z")]),
        ("cost_1e10", [(("variants", 0, "inventory_item", "cost"), "10000000000.00")]),
        ("variant_id_twice", [(("variants",), "DUPLICATE_FIRST")]),
    ],
    "google_ads_shopping": [
        ("date_1969", [(("segments", "date"), "1969-12-31")]),
        ("cost_1e19_micros", [(("metrics", "costMicros"), "10000000000000000000")]),
        ("value_1e15", [(("metrics", "conversionsValue"), 1e15)]),
    ],
    "meta_products": [
        ("date_1900", [(("date_start",), "1900-01-01"), (("date_stop",), "1900-01-01")]),
        ("spend_1e13", [(("spend",), "10000000000000")]),
    ],
}  # fmt: skip


def edge_rows(c: ProductCorpus) -> list[Mutant]:
    """The source's product edges, each applied to a row of the mutable half."""
    out = []
    for k, (kind, sets) in enumerate(_EDGES[c.source]):
        row = json.loads(json.dumps(c.mutable[k % len(c.mutable)]))
        for path, value in sets:
            try:
                if value == "DUPLICATE_FIRST":
                    items = row
                    for key in path:
                        items = items[key]
                    items.append(json.loads(json.dumps(items[0])))
                else:
                    _set(row, path, value)
            except (KeyError, IndexError, TypeError):
                continue  # a row without that field: the edge is the rest of its set
        out.append(Mutant(json.dumps(row), f"edge:{kind}", ".".join(map(str, sets[0][0]))))
    return out


def batch(
    c: ProductCorpus, seed: int, index: int, mutants: int, clean: int, *, edges: bool = False
) -> Batch:
    """The index-th batch of a source: ``mutants`` mutated rows (and, with ``edges``, the
    source's product edges) and the index-th slice of ``clean`` clean rows (wrapping
    round), shuffled; seeded by (seed, source, index)."""
    rng = random.Random(f"{seed}/{c.source}/{index}")
    picked: list[tuple[str, Any, int | None]] = []
    for m in edge_rows(c) if edges else []:
        picked.append((m.line, m, None))
    for _ in range(mutants):
        m = mutate(rng.choice(c.mutable), rng)
        picked.append((m.line, m, None))
    for k in range(index * clean, (index + 1) * clean):
        g = k % len(c.clean)
        picked.append((json.dumps(c.clean[g]), None, g))
    rng.shuffle(picked)
    return Batch([p[0] for p in picked], [p[1] for p in picked], [p[2] for p in picked])


def request(
    c: ProductCorpus, lines: list[str], batch_id: str, *, org: str, offset: int = 0
) -> ingestion_pb.IngestRequest:
    out = ingestion_pb.IngestRequest(
        org_id=org,
        source=SOURCES[c.source],  # type: ignore[arg-type]
        batch_id=batch_id,
        json_rows=lines,
        account=c.account,
        row_offset=offset,
    )
    out.pulled_at.FromDatetime(PULLED.replace(tzinfo=None))
    return out


# The columns that name a cell of each AggregateProducts table.
_KEYS = {
    "sales": ("date", "product_id", "currency"),
    "spend": ("date", "product_id", "source", "channel", "currency"),
    "catalogue": ("product_id",),
}


def cells(reply: memory_pb.AggregateProductsResponse) -> dict[str, set[tuple[Any, ...]]]:
    """Each table's cells (its key columns' values), by table name."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for name, keys in _KEYS.items():
        frame = table_to_frame(getattr(reply, name))
        out[name] = (
            set(map(tuple, frame[list(keys)].astype(str).to_numpy().tolist()))
            if len(frame)
            else set()
        )
    return out


def missing(fuzzed: memory_pb.AggregateProductsResponse, clean_only: memory_pb.AggregateProductsResponse) -> list[str]:  # fmt: skip
    """The cells an org that got only the clean rows holds and the fuzzed org lacks."""
    have, want = cells(fuzzed), cells(clean_only)
    out = []
    for name in _KEYS:
        lost = sorted(want[name] - have[name])
        if lost:
            out.append(f"{name}: {len(lost)} of {len(want[name])} clean cells missing, e.g. {lost[:3]}")  # fmt: skip
    return out
