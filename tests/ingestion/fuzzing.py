"""Fuzzing corpora for every connector: clean rows to keep (with their natural keys), rows to
mutate (of other campaigns or regions, so no mutant can carry a clean row's key), the
account and mapping a batch of them needs; and the invariant every batch must keep.

Used by ``tests/ingestion/test_fuzz_rows.py`` and ``bench/fuzz_rows.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb

import sim
from ingestion_svc.raw_batch import REASONS, ColumnMap
from sim.raw.mutate import Batch, orders_rows, split

SOURCES = ("meta", "google_ads", "klaviyo", "tiktok", "generic")
SOURCE_ENUM = {
    "meta": common_pb.DATA_SOURCE_META,
    "google_ads": common_pb.DATA_SOURCE_GOOGLE_ADS,
    "klaviyo": common_pb.DATA_SOURCE_KLAVIYO,
    "tiktok": common_pb.DATA_SOURCE_TIKTOK,
    "generic": common_pb.DATA_SOURCE_GENERIC,
}
# orders.csv read as the README's `liftos ingest --source generic --mapping …` reads it.
ORDERS_MAPPING = ColumnMap(
    date="date", geo="region", conversions="orders", revenue="revenue", currency_code="currency"
)
ORDERS_ACCOUNT = "shop"


@dataclass(frozen=True, slots=True)
class Corpus:
    """One source's rows for fuzzing."""

    source: str
    account: dict[str, Any]  # account_id, timezone, currency, country, geo_keys
    clean: list[dict[str, Any]]
    keys: list[str]  # natural key of each clean row
    mutable: list[dict[str, Any]]
    mapping: ColumnMap = field(default_factory=ColumnMap)


def corpus(world: sim.SimResult, source: str) -> Corpus:
    if source == "generic":
        # one org's orders without the org column: the corpus is ingested under test orgs
        # ("acme", "fuzz"), and rows naming another org are rejected (test_generic_orgs.py)
        rows = [{k: v for k, v in r.items() if k != "org_id"} for r in orders_rows(world.outcomes)]
        keep, change = split(r["region"] for r in rows)
        account = {
            "account_id": ORDERS_ACCOUNT,
            "timezone": next(a["timezone"] for a in world.accounts),
            "currency": rows[0]["currency"],
            "country": "US",
            "geo_keys": {},
        }
        clean = [rows[i] for i in keep]
        keys = [f"generic|{ORDERS_ACCOUNT}|first_party|{r['region']}|{r['date']}" for r in clean]
        return Corpus(source, account, clean, keys, [rows[i] for i in change], ORDERS_MAPPING)
    export = world.raw[source]
    keep, change = split(export.camp.tolist())
    a = next(x for x in world.accounts if x["source"] == source)
    account = {
        "account_id": a["account_id"],
        "timezone": a["timezone"],
        "currency": a["currency"],
        "country": "US",
        "geo_keys": a["geo_keys"],
    }
    return Corpus(
        source,
        account,
        [export.base_row(i) for i in keep],
        [export.row_key(i) for i in keep],
        [export.base_row(i) for i in change],
    )


def request(
    c: Corpus, lines: list[str], batch_id: str, *, org: str, pulled: dt.datetime, offset: int
) -> ingestion_pb.IngestRequest:
    a = c.account
    m = c.mapping
    out = ingestion_pb.IngestRequest(
        org_id=org,
        source=SOURCE_ENUM[c.source],
        batch_id=batch_id,
        json_rows=lines,
        account=ingestion_pb.AccountInfo(
            account_id=a["account_id"],
            timezone=a["timezone"],
            currency_code=a["currency"],
            country_code=a["country"],
            geo_keys=a["geo_keys"],
        ),
        mapping=ingestion_pb.ColumnMapping(
            date=m.date,
            geo=m.geo,
            conversions=m.conversions,
            revenue=m.revenue,
            currency_code=m.currency_code,
        ),
        row_offset=offset,
    )
    out.pulled_at.FromDatetime(pulled.replace(tzinfo=None))
    return out


def broken_promises(
    batch: Batch, accepted: int, rejections: Sequence[tuple[int, str, str, str]]
) -> list[str]:
    """What a batch's outcome breaks of the contract, [] when nothing: every row accepted
    or rejected once, each rejection with a field, a known reason and a message, no clean
    row rejected."""
    n = len(batch.lines)
    problems = []
    rows = [r[0] for r in rejections]
    if len(set(rows)) != len(rows):
        problems.append(f"a row rejected twice: {sorted(rows)}")
    if accepted + len(rejections) != n:
        problems.append(f"{accepted} accepted + {len(rejections)} rejected != {n} rows")
    for row, field_, reason, message in rejections:
        mutant = batch.mutants[row] if 0 <= row < n else None
        where = f"row {row} ({mutant.kind} at {mutant.path!r})" if mutant else f"row {row}"
        if not (field_ and reason in REASONS and message):
            problems.append(f"{where}: rejection without field/reason/message {field_, reason}")
        if 0 <= row < n and batch.good[row] is not None:
            problems.append(f"clean {where} rejected: {field_} {reason} {message}")
    return problems
