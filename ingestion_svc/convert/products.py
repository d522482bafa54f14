"""Product records (``ingestion_svc.product_batch``) ↔ CausalMarketingData with its
ProductDimension; stored product records → what a stream's dedupe needs of them."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from google.protobuf import timestamp_pb2
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from ingestion_svc.raw_batch import RawBatch

__all__ = ["PRODUCT_SOURCE_ENUM", "product_write_request", "stored_units"]

PRODUCT_SOURCE_ENUM = {
    "shopify_orders": common_pb.DATA_SOURCE_SHOPIFY_ORDERS,
    "shopify_products": common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS,
    "google_ads_shopping": common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
    "meta_products": common_pb.DATA_SOURCE_META_PRODUCTS,
}


def product_write_request(batch: RawBatch, records: pd.DataFrame, now: dt.datetime) -> bytes:
    """The records as one serialised WriteStreamRequest.

    Built message by message (the product dimension is not in the column encoder), from
    plain Python columns: dates and instants converted once per batch, not per record."""
    source = PRODUCT_SOURCE_ENUM[batch.source]
    pulled = timestamp_pb2.Timestamp()
    pulled.FromDatetime(batch.pulled_at.astimezone(dt.UTC).replace(tzinfo=None))
    ingested = timestamp_pb2.Timestamp()
    ingested.FromDatetime(now.astimezone(dt.UTC).replace(tzinfo=None))
    n = len(records)
    us = records["timestamp"].to_numpy("datetime64[us]").astype(np.int64).tolist()
    days = pd.DatetimeIndex(records["local_date"])
    ymd = zip(days.year.tolist(), days.month.tolist(), days.day.tolist(), strict=True)
    col = {c: records[c].tolist() for c in records.columns if c not in ("timestamp", "local_date")}
    out = []
    for i, (y, m, d) in zip(range(n), ymd, strict=True):
        cost = col["unit_cost"][i]
        product = md_pb.ProductDimension(
            product_id=col["product_id"][i],
            variant_id=col["variant_id"][i],
            sku=col["sku"][i],
            category=col["category"][i],
            item_id=col["item_id"][i],
            order_id=col["order_id"][i],
            line_item_id=col["line_item_id"][i],
            quantity=col["quantity"][i],
            list_price=col["list_price"][i],
            discount_amount=col["discount_amount"][i],
            refunded_quantity=col["refunded_quantity"][i],
            refund_amount=col["refund_amount"][i],
            title=col["title"][i],
            unit_cost=None if math.isnan(cost) else cost,
        )
        stamp = us[i]
        record = md_pb.CausalMarketingData(
            id=col["id"][i],
            org_id=batch.org_id,
            timestamp=timestamp_pb2.Timestamp(
                seconds=stamp // 1_000_000, nanos=(stamp % 1_000_000) * 1000
            ),
            data_source=source,
            campaign_id=col["campaign_id"][i],
            campaign_name=col["campaign_name"][i],
            spend=col["spend"][i],
            impressions=col["impressions"][i],
            clicks=col["clicks"][i],
            conversions=col["conversions"][i],
            revenue=col["revenue"][i],
            account_id=col["account_id"][i],
            geo=col["geo"][i],
            currency_code=col["currency"][i],
            natural_key=col["natural_key"][i],
            version=col["version"][i],
            local_date=common_pb.Date(year=y, month=m, day=d),
            channel=col["channel"][i],
            product=product,
            causal_metadata=md_pb.CausalMetadata(
                ingested_at=ingested,
                pulled_at=pulled,
                batch_id=batch.batch_id,
                account_timezone=col["timezone"][i],
                raw_row_sha256=col["sha"][i],
                is_restatement=col["is_restatement"][i],
                replaced_version=col["replaced_version"][i],
            ),
        )
        out.append(record)
    return memory_pb.WriteStreamRequest(org_id=batch.org_id, records=out).SerializeToString()


def stored_units(
    records: Sequence[md_pb.CausalMarketingData],
) -> list[tuple[str, int, str, tuple[str, str, str, str], int, str]]:
    """(natural key, version, raw sha, (product, variant, sku, category), UTC day start µs,
    geo) of stored records (the unit is in the natural key, which names the account; an
    order's restatement zeroes the stored lines it lacks, so it needs their product identity;
    the day start and geo say whether a re-send under other account settings moves it)."""
    return [
        (
            r.natural_key,
            r.version,
            r.causal_metadata.raw_row_sha256,
            (r.product.product_id, r.product.variant_id, r.product.sku, r.product.category),
            r.timestamp.seconds * 1_000_000 + r.timestamp.nanos // 1_000,
            r.geo,
        )
        for r in records
    ]
